"""A stub of the fivetran_connector_sdk module for bench/python.sh: the same
API, operations that do nothing.  Running a connector under it measures what
the connector itself costs, the floor any runner adds to."""


class Operations:
    @staticmethod
    def upsert(table, data, *, file=None):
        pass

    @staticmethod
    def update(table, modified, *, file=None):
        pass

    @staticmethod
    def delete(table, keys):
        pass

    @staticmethod
    def truncate(table):
        pass

    @staticmethod
    def checkpoint(state):
        pass


class Logging:
    @staticmethod
    def fine(message):
        pass

    debug = info = warning = fine

    @staticmethod
    def severe(message, exception=None):
        pass

    error = critical = severe


class Connector:
    def __init__(self, update, schema=None, configuration_form=None):
        self.update_method = update
        self.schema_method = schema
