"""reports (issue 22): anonymous counters per day, hour, language and agent; the visitor's
rating of a conversation; when a conversation was counted; the counters summed per day
and per month; the business hours

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 13:15:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401


# revision identifiers, used by Alembic.
revision: str = '0007'
down_revision: Union[str, Sequence[str], None] = '0006'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('conversation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reported_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_conversation_reported_at'), ['reported_at'], unique=False)
    op.create_table('conversation_rating',
    sa.Column('conversation_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('score', sa.Integer(), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('rated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversation.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('conversation_id')
    )
    op.create_table('report_hour',
    sa.Column('day', sa.String(length=10), nullable=False),
    sa.Column('hour', sa.Integer(), nullable=False, autoincrement=False),
    sa.Column('language', sa.String(length=5), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=False, autoincrement=False),
    sa.Column('started', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('handed_off', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('claimed', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('assistant_solved', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('closed', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('offline_messages', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('messages_visitor', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('messages_agent', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('messages_bot', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('messages_system', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('rating_1', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('rating_2', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('rating_3', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('rating_4', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('rating_5', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('wait_10', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('wait_30', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('wait_60', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('wait_120', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('wait_300', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('wait_600', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('wait_1800', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('wait_inf', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('first_response_10', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('first_response_30', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('first_response_60', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('first_response_120', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('first_response_300', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('first_response_600', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('first_response_1800', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('first_response_inf', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('duration_60', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('duration_300', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('duration_600', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('duration_1200', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('duration_1800', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('duration_3600', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('duration_7200', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('duration_inf', sa.Integer(), nullable=False, server_default='0'),
    sa.PrimaryKeyConstraint('day', 'hour', 'language', 'agent_id')
    )
    with op.batch_alter_table('report_hour', schema=None) as batch_op:
        batch_op.create_index('ix_report_hour_starts', ['agent_id', 'day', 'hour', 'language', 'started'], unique=False)
    op.create_table('report_day',
    sa.Column('day', sa.String(length=10), nullable=False),
    sa.Column('language', sa.String(length=5), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=False, autoincrement=False),
    sa.Column('started', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('handed_off', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('claimed', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('assistant_solved', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('closed', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('offline_messages', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('messages_visitor', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('messages_agent', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('messages_bot', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('messages_system', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('rating_1', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('rating_2', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('rating_3', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('rating_4', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('rating_5', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('wait_10', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('wait_30', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('wait_60', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('wait_120', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('wait_300', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('wait_600', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('wait_1800', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('wait_inf', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('first_response_10', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('first_response_30', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('first_response_60', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('first_response_120', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('first_response_300', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('first_response_600', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('first_response_1800', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('first_response_inf', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('duration_60', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('duration_300', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('duration_600', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('duration_1200', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('duration_1800', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('duration_3600', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('duration_7200', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('duration_inf', sa.Integer(), nullable=False, server_default='0'),
    sa.PrimaryKeyConstraint('day', 'language', 'agent_id')
    )
    op.create_table('business_hours',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('weekly', sa.Text(), nullable=False),
    sa.Column('exceptions', sa.Text(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('report_month',
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('language', sa.String(length=5), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=False, autoincrement=False),
    sa.Column('started', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('handed_off', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('claimed', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('assistant_solved', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('closed', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('offline_messages', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('messages_visitor', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('messages_agent', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('messages_bot', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('messages_system', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('rating_1', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('rating_2', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('rating_3', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('rating_4', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('rating_5', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('wait_10', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('wait_30', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('wait_60', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('wait_120', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('wait_300', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('wait_600', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('wait_1800', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('wait_inf', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('first_response_10', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('first_response_30', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('first_response_60', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('first_response_120', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('first_response_300', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('first_response_600', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('first_response_1800', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('first_response_inf', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('duration_60', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('duration_300', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('duration_600', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('duration_1200', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('duration_1800', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('duration_3600', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('duration_7200', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('duration_inf', sa.Integer(), nullable=False, server_default='0'),
    sa.PrimaryKeyConstraint('month', 'language', 'agent_id')
    )


def downgrade() -> None:
    op.drop_table('report_month')
    op.drop_table('business_hours')
    op.drop_table('report_day')
    with op.batch_alter_table('report_hour', schema=None) as batch_op:
        batch_op.drop_index('ix_report_hour_starts')
    op.drop_table('report_hour')
    op.drop_table('conversation_rating')
    with op.batch_alter_table('conversation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conversation_reported_at'))
        batch_op.drop_column('reported_at')
