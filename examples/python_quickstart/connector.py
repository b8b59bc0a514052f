# The Fivetran Connector SDK beginner tutorial's connector: decrypts a
# message with the Fernet key `my_key` from configuration.json and upserts it
# into table `crypto`.  It runs unchanged under `fivetran debug` and under
# `mallard debug`.
import json

from cryptography.fernet import Fernet

from fivetran_connector_sdk import Connector
from fivetran_connector_sdk import Logging as log
from fivetran_connector_sdk import Operations as op

# A message encrypted with the tutorial's key.
ENCRYPTED_MESSAGE = (
    b"gAAAAABl-3QGKUHpdUhBNpnW1_SnSkQGrAwev-uBBJaZo4NmtylIMg8UX6usuG4Z-h80OvfJajW6HU56O5hofapEIh4W33vuMpJgq0q3qMQx6R3Ol4qZ3Wc2DyIIapxbK5BrQHshBF95"
)


def schema(configuration: dict):
    if "my_key" not in configuration:
        raise ValueError("Could not find 'my_key'")
    return [{"table": "crypto", "primary_key": ["msg"]}]


def update(configuration: dict, state: dict):
    log.warning("Example: QuickStart Examples - Configuration")
    key = configuration["my_key"]
    log.fine(f"decrypting with a key of {len(key)} characters")
    message = Fernet(key.encode()).decrypt(ENCRYPTED_MESSAGE)
    yield op.upsert(table="crypto", data={"msg": message.decode()})
    yield op.checkpoint(state)


connector = Connector(update=update, schema=schema)

if __name__ == "__main__":
    with open("configuration.json", "r") as f:
        configuration = json.load(f)
    connector.debug(configuration=configuration)
