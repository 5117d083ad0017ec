"""Exports of a campaign: the recap workbook a Kabid prints and the evidence package for the national upload.

`data.load_export` reads everything in a fixed number of statements (none per OPD, item or version) into one
frozen `ExportData`; `recap.write_recap` and `package.write_package` build the files from it, synchronously, so
callers run them in a thread after the read unit has closed (never inside a transaction, never on the loop);
`produce` does exactly that for the chat and the CLI.
"""
