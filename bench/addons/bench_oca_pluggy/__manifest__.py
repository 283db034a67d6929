{
    "name": "Benchmark: Pluggy rows through OCA's online bank statement import",
    "summary": "A minimal account_statement_import_online provider of Pluggy emulator rows (bench only)",
    "version": "18.0.1.0.0",
    "category": "Hidden",
    "author": "caixa_pluggy contributors",
    "license": "LGPL-3",
    # caixa_pluggy only lends its HTTP client and its mapping, so that both importers read and map the same
    # rows the same way: what the benchmark compares is what each does with them.
    "depends": ["account_statement_import_online", "caixa_pluggy"],
    "data": [],
    "installable": True,
    "application": False,
}
