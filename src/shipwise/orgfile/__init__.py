"""The organisation file (``org.yaml``): org units, teams, people and services with ownership
over time — parsed with the line of every value, validated, and compared with the organisation a
store holds. Pure: no store, no I/O beyond the text it is given (the SQL is in
:mod:`shipwise.store.orgfile`)."""

from shipwise.orgfile.export import to_data, to_yaml
from shipwise.orgfile.model import FORMAT_VERSION, OrgFile
from shipwise.orgfile.state import Change, OrgState, desired_state, diff, entry_lines
from shipwise.orgfile.validate import OrgDocument, OrgFileError, parse
from shipwise.orgfile.yamlpos import Problem

__all__ = ["FORMAT_VERSION", "Change", "OrgDocument", "OrgFile", "OrgFileError", "OrgState",
           "Problem", "desired_state", "diff", "entry_lines", "parse", "to_data", "to_yaml"]
