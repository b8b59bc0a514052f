# bench/python.sh: upserts `rows` rows of 4 columns (id, name, amount,
# active) into table `items`, with a checkpoint every `checkpoint_every`.
# The same rows as connector.c beside it.
from fivetran_connector_sdk import Connector, Operations as op


def schema(configuration):
    return [{"table": "items", "primary_key": ["id"],
             "columns": {"id": "LONG", "name": "STRING", "amount": "DOUBLE", "active": "BOOLEAN"}}]


def update(configuration, state):
    rows = int(configuration["rows"])
    every = int(configuration["checkpoint_every"])
    for i in range(rows):
        op.upsert(table="items", data={"id": i, "name": "item %d" % i, "amount": i * 0.25, "active": i % 3 == 0})
        if (i + 1) % every == 0:
            op.checkpoint(state={"done": i + 1})
    op.checkpoint(state={"done": rows})


connector = Connector(update=update, schema=schema)
