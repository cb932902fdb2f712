"""agents' private notes in a conversation; the full-text index of messages and notes; a
conversation's link to the same visitor's previous one

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 13:20:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401


# SQLite: an FTS5 index per table (external content: the text is stored once, in the row), kept
# in step by triggers, so the index follows every insert and every delete (erase, purge,
# cascades). The porter stemmer finds English inflected forms; unicode61 folds case and accents.
# A later migration that rebuilds `message` or `note` (batch_alter_table) must recreate these.
SQLITE_UP = [
    f'''CREATE VIRTUAL TABLE {table}_search USING fts5(text, content='{table}',
        content_rowid='rowid', tokenize='porter unicode61 remove_diacritics 2')'''
    for table in ('message', 'note')
] + [
    statement for table in ('message', 'note') for statement in (
        f'''CREATE TRIGGER {table}_search_insert AFTER INSERT ON {table} BEGIN
            INSERT INTO {table}_search(rowid, text) VALUES (new.rowid, new.text); END''',
        f'''CREATE TRIGGER {table}_search_delete AFTER DELETE ON {table} BEGIN
            INSERT INTO {table}_search({table}_search, rowid, text)
            VALUES ('delete', old.rowid, old.text); END''',
        f'''CREATE TRIGGER {table}_search_update AFTER UPDATE OF text ON {table} BEGIN
            INSERT INTO {table}_search({table}_search, rowid, text)
            VALUES ('delete', old.rowid, old.text);
            INSERT INTO {table}_search(rowid, text) VALUES (new.rowid, new.text); END''',
        f"INSERT INTO {table}_search({table}_search) VALUES ('rebuild')",
    )
]
SQLITE_DOWN = [
    f'DROP TRIGGER IF EXISTS {table}_search_{kind}'
    for table in ('message', 'note') for kind in ('insert', 'delete', 'update')
] + [f'DROP TABLE IF EXISTS {table}_search' for table in ('message', 'note')]
# PostgreSQL: a GIN index per language configuration over the text; a search asks all three
# (or the one of its language filter), so an inflected form is found in fi, sv and en.
CONFIGS = ('finnish', 'swedish', 'english')
# With the time index, a search reads only the matches of a recent window first (search.py).
POSTGRES_UP = [
    f"CREATE INDEX ix_{table}_search_{config} ON {table} USING gin (to_tsvector('{config}', text))"
    for table in ('message', 'note') for config in CONFIGS
] + ['CREATE INDEX ix_message_created_at ON message (created_at)']
POSTGRES_DOWN = [f'DROP INDEX IF EXISTS ix_{table}_search_{config}'
                 for table in ('message', 'note') for config in CONFIGS
                 ] + ['DROP INDEX IF EXISTS ix_message_created_at']


# revision identifiers, used by Alembic.
revision: str = '0004'
down_revision: Union[str, Sequence[str], None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # Not batch_alter_table on SQLite: rebuilding `conversation` drops the old table, and with
    # foreign keys on that deletes every message by its ON DELETE CASCADE.
    if op.get_bind().dialect.name == 'sqlite':
        columns = {row[1] for row in op.get_bind().execute(
            sa.text('PRAGMA table_info(conversation)'))}
        if 'previous_id' not in columns:  # kept by a downgrade on SQLite (below)
            op.execute('ALTER TABLE conversation ADD COLUMN previous_id VARCHAR(32) '
                       'REFERENCES conversation (id) ON DELETE SET NULL')
    else:
        op.add_column('conversation', sa.Column('previous_id', sa.String(length=32),
                                                nullable=True))
        op.create_foreign_key('fk_conversation_previous_id', 'conversation', 'conversation',
                              ['previous_id'], ['id'], ondelete='SET NULL')
    op.create_table('note',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('conversation_id', sa.String(length=32), nullable=False),
    sa.Column('author_agent_id', sa.Integer(), nullable=True),
    sa.Column('author_name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('after_seq', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('client_key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['author_agent_id'], ['agent.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversation.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('conversation_id', 'client_key', name='uq_note_client_key')
    )
    with op.batch_alter_table('note', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_note_conversation_id'), ['conversation_id'], unique=False)
    # The search index over the stored messages and notes (filled from the rows already there).
    sqlite = op.get_bind().dialect.name == 'sqlite'
    for statement in SQLITE_UP if sqlite else POSTGRES_UP:
        op.execute(statement)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == 'sqlite'
    for statement in SQLITE_DOWN if sqlite else POSTGRES_DOWN:
        op.execute(statement)
    with op.batch_alter_table('note', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_note_conversation_id'))
    op.drop_table('note')
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite cannot drop a column with a foreign key without rebuilding the table (which
        # would delete the messages, above): the column stays, empty, and 0004 reuses it.
        op.execute('UPDATE conversation SET previous_id = NULL')
    else:
        op.drop_constraint('fk_conversation_previous_id', 'conversation', type_='foreignkey')
        op.drop_column('conversation', 'previous_id')
