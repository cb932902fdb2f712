"""the FAQ edited in the console (faq_version) and what the assistant decided per visitor
message (bot_decision); issue 23

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-07 13:20:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401


# revision identifiers, used by Alembic.
revision: str = '0006'
down_revision: Union[str, Sequence[str], None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('faq_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('saved_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('saved_by', sa.Integer(), nullable=True),
    sa.Column('entries', sa.Text(), nullable=False),
    sa.Column('labelled', sa.Text(), server_default='[]', nullable=False),
    sa.ForeignKeyConstraint(['saved_by'], ['agent.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('bot_decision',
    sa.Column('message_id', sa.String(length=32), nullable=False),
    sa.Column('conversation_id', sa.String(length=32), nullable=False),
    sa.Column('language', sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('entry_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('confidence', sa.Float(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('reviewed', sa.String(length=10), server_default='', nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversation.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['message_id'], ['message.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('message_id')
    )
    with op.batch_alter_table('bot_decision', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bot_decision_conversation_id'), ['conversation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_bot_decision_created_at'), ['created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('bot_decision', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bot_decision_created_at'))
        batch_op.drop_index(batch_op.f('ix_bot_decision_conversation_id'))
    op.drop_table('bot_decision')
    op.drop_table('faq_version')
