{
    "name": "Benchmark: SQL queries and seconds of each Pluggy sync in the cron processes",
    "summary": "Logs what each scheduled sync of caixa_pluggy costs, for bench/run.py --fleet (bench only)",
    "version": "18.0.1.0.0",
    "category": "Hidden",
    "author": "caixa_pluggy contributors",
    "license": "LGPL-3",
    "depends": ["caixa_pluggy"],
    "data": [],
    "installable": True,
    "application": False,
}
