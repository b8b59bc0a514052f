# A mallard connector in Python, written for the Fivetran Connector SDK's API:
# schema() declares the tables, update() sends rows and checkpoints.
from fivetran_connector_sdk import Connector
from fivetran_connector_sdk import Logging as log
from fivetran_connector_sdk import Operations as op


def schema(configuration: dict):
    return [{"table": "greetings", "primary_key": ["id"], "columns": {"id": "LONG", "message": "STRING"}}]


def update(configuration: dict, state: dict):
    sent = state.get("sent", 0)
    name = configuration.get("name", "world")
    log.info(f"sending greetings {sent} to {sent + 2}")
    for i in range(sent, sent + 3):
        op.upsert(table="greetings", data={"id": i, "message": f"hello, {name} #{i}"})
    # everything before a checkpoint is committed, then the state is saved
    op.checkpoint(state={"sent": sent + 3})


connector = Connector(update=update, schema=schema)

if __name__ == "__main__":
    connector.debug()
