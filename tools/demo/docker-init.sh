#!/bin/bash
# The one-shot "init" service of docker-compose.yml: the same steps as ./run-demo, in the official Odoo image.
# First start: create the demo database (company in Brazil, admin/admin) and install caixa_pluggy,
# account_reconcile_oca and l10n_br. Later starts: upgrade caixa_pluggy. Then, every time, seed it
# (tools/demo/seed.py): every step is safe to repeat.
set -euo pipefail

# The database settings of the image's entrypoint (HOST, PORT, USER, PASSWORD), with its defaults.
: "${HOST:=db}" "${PORT:=5432}" "${USER:=odoo}" "${PASSWORD:=odoo}"
DB="${DEMO_DB:-caixa_pluggy_demo}"
TOOLS="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DB_ARGS=(--db_host "$HOST" --db_port "$PORT" --db_user "$USER" --db_password "$PASSWORD")

wait-for-psql.py "${DB_ARGS[@]}" --timeout=60
state="$(python3 "$TOOLS/demo/bootstrap.py" state --db "$DB" "${DB_ARGS[@]}")"
if [[ "$state" == "absent" || "$state" == "empty" ]]; then
    python3 "$TOOLS/demo/bootstrap.py" create --db "$DB" "${DB_ARGS[@]}"
    state=bare
fi
if [[ "$state" == "bare" ]]; then
    echo "init: installing caixa_pluggy, account_reconcile_oca and l10n_br in $DB (a few minutes)"
    install=(-i caixa_pluggy,account_reconcile_oca,l10n_br)
else
    echo "init: upgrading caixa_pluggy in $DB"
    install=(-u caixa_pluggy)
fi
odoo -d "$DB" "${DB_ARGS[@]}" "${install[@]}" --without-demo=all --stop-after-init --no-http \
    --max-cron-threads=0

echo "import os, runpy; runpy.run_path(os.environ['DEMO_SEED_FILE'])['main'](env)" \
    | DEMO_SEED_FILE="$TOOLS/demo/seed.py" odoo shell -d "$DB" "${DB_ARGS[@]}" --no-http --max-cron-threads=0
echo "init: $DB is ready: log in at http://localhost:8069 as admin / admin"
