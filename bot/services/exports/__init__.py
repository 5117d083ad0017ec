"""Exports of a campaign: the recap workbook a Kabid prints and the evidence package for the national upload.

`data.read_export` fetches everything in a fixed number of statements (none per OPD, item or version);
`data.assemble` turns those rows into one frozen `ExportData`; `recap.write_recap` and `package.write_package`
build the files from it. Assembling and writing are synchronous, so callers run them in a thread after the read
unit has closed (never inside a transaction, never on the loop); `produce` does exactly that for the chat and
the CLI.
"""
