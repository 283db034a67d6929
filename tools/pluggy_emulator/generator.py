"""Deterministic history: accounts and years of transactions for one item, drawn from a seeded RNG."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from . import bills, catalog
from .jsonio import CENT, day_iso, seeded_uuid
from .people import Party, cents

ZERO = Decimal("0.00")
_BANK_KINDS = ["pix_out", "pix_in", "ted_in", "ted_out", "boleto", "debit_card", "fee", "card_bill"]
_BANK_WEIGHTS = [30, 15, 4, 4, 12, 20, 3, 3]
_BANK_MUST = ["pix_out", "pix_in", "ted_in", "boleto", "debit_card", "salary"]
_CARD_KINDS = ["purchase", "installment", "foreign", "fee", "refund"]
_CARD_WEIGHTS = [80, 8, 3, 2, 3]
_CARD_MUST = ["foreign", "purchase", "installment", "refund"]


def transaction_row(**fields) -> dict:
    """A transaction with every field Pluggy's GET /v2/transactions returns, empty unless given."""
    return {
        "id": None,
        "description": "",
        "descriptionRaw": None,
        "currencyCode": "BRL",
        "amount": Decimal("0.00"),
        "amountInAccountCurrency": None,
        "date": None,
        "type": None,
        "balance": None,
        "providerCode": None,
        "providerId": None,
        "status": "POSTED",
        "category": None,
        "categoryId": None,
        "paymentData": None,
        "creditCardMetadata": None,
        "merchant": None,
        "operationType": None,
        "operationTypeAdditionalInfo": None,
        "accountId": None,
        "order": 0,
        "createdAt": None,
        "updatedAt": None,
        **fields,
    }


class Generator:
    """Builds one item's accounts and transactions; every draw comes from ``random.Random(f"{seed}/...")``."""

    def __init__(self, seed: int, key: str, today: date, connector: dict, card_expense_positive: bool = True):
        self.rng = random.Random(f"{seed}/{key}")
        self.today = today
        self.connector = connector
        self.card_expense_positive = card_expense_positive
        rng = self.rng
        self.holder = Party(rng, f"{rng.choice(catalog.FIRST_NAMES)} {rng.choice(catalog.LAST_NAMES)}", False)
        self.people = [
            Party(rng, f"{rng.choice(catalog.FIRST_NAMES)} {rng.choice(catalog.LAST_NAMES)}", False)
            for _ in range(12)
        ]
        self.companies = [(Party(rng, legal, True), short, mcc) for legal, short, mcc in catalog.COMPANIES]
        self.employer = Party(rng, rng.choice(catalog.EMPLOYERS), True)

    # ------------------------------------------------------------------ accounts
    def bank_account(self, item_id: str, created_at: str) -> dict:
        rng = self.rng
        number = f"0001/{rng.randrange(10000, 99999)}-{rng.randrange(10)}"
        return {
            "id": seeded_uuid(rng),
            "type": "BANK",
            "subtype": "CHECKING_ACCOUNT",
            "number": number,
            "name": "Conta Corrente",
            "marketingName": "GOLD Conta Corrente",
            "balance": ZERO,
            "itemId": item_id,
            "taxNumber": self.holder.doc,
            "owner": self.holder.name,
            "currencyCode": "BRL",
            "bankData": {
                "transferNumber": number,
                "closingBalance": ZERO,
                "automaticallyInvestedBalance": ZERO,
                "overdraftContractedLimit": Decimal("1000.00"),
                "overdraftUsedLimit": ZERO,
                "unarrangedOverdraftAmount": ZERO,
                "hasReservedBalance": False,
                "reservedBalances": [],
            },
            "creditData": None,
            "createdAt": created_at,
            "updatedAt": created_at,
        }

    def card_account(self, item_id: str, created_at: str, card_bills: int = 0) -> dict:
        """A card closing on the 5th, due on the 15th; with ``card_bills``, closing on a day that leaves its
        last closed bill not yet due today (closed 4 to 9 days ago, due in 10 days from its closing)."""
        rng = self.rng
        last4 = f"{rng.randrange(10000):04d}"
        limit = Decimal(rng.randrange(50, 300) * 100).quantize(CENT)
        closing_day = bills.CLOSING_DAY
        if card_bills > 0:
            last = self.today - timedelta(days=rng.randrange(4, 7))
            while last.day > 28:  # a closing day every month has
                last -= timedelta(days=1)
            closing_day = last.day
        tomorrow = self.today + timedelta(days=1)
        close = bills.closings(tomorrow, tomorrow + timedelta(days=31), closing_day)[0]  # the open cycle's
        return {
            "id": seeded_uuid(rng),
            "type": "CREDIT",
            "subtype": "CREDIT_CARD",
            "number": f"xxxx{last4}",
            "name": "Mastercard Black",
            "marketingName": "PLUGGY UNICLASS MASTERCARD BLACK",
            "balance": ZERO,
            "itemId": item_id,
            "taxNumber": self.holder.doc,
            "owner": self.holder.name,
            "currencyCode": "BRL",
            "bankData": None,
            "creditData": {
                "level": "BLACK",
                "brand": "MASTERCARD",
                "brandAdditionalInfo": None,
                "balanceCloseDate": day_iso(close),
                "balanceDueDate": day_iso(close + timedelta(days=bills.DUE_DAYS)),
                "availableCreditLimit": limit,
                "balanceForeignCurrency": ZERO,
                "minimumPayment": ZERO,
                "creditLimit": limit,
                "isLimitFlexible": False,
                "status": "ACTIVE",
                "holderType": "MAIN",
                "additionalCards": [],
            },
            "createdAt": created_at,
            "updatedAt": created_at,
        }

    # -------------------------------------------------------------- transactions
    def transactions(
        self,
        account: dict,
        count: int,
        history_days: int,
        pending: int,
        *,
        card_bills: int = 0,
        card_payments: list | None = None,
    ) -> tuple[list, Decimal]:
        """``count`` rows (``pending`` of them PENDING) and an opening balance that keeps the history sane.

        A card's rows of each closed cycle carry their bill's id, and each bill is paid in full by one
        "PAGAMENTO RECEBIDO" row on its due date or up to 3 days before, if that day is past; with
        ``card_bills`` the card's history is exactly that many closed cycles (the last one not yet due) and
        the open one. A bank account given ``card_payments`` [(date, amount)] (its item's card bills) pays
        each with a "PAGAMENTO FATURA CARTAO" row of that date and amount; without, a few such rows of its
        own."""
        count = max(0, int(count))
        pending = max(0, min(int(pending), count))
        history_days = max(2, int(history_days))
        if account["type"] == "BANK":
            rows = self._bank_rows(account, count - pending, history_days, card_payments)
        else:
            if card_bills > 0:
                first = bills.month_shift(self._last_closing(account), -int(card_bills))
                history_days = max(2, (self.today - first).days - 1)
            rows = self._card_rows(account, count - pending, history_days, open_last=card_bills > 0)
        rows += self._pending_rows(account, pending)
        opening = self._settle_amounts(rows, account)
        if account["type"] == "CREDIT":
            self._link_bills(rows, account)
        return rows, opening

    def card_payments(self, rows: list[dict], account: dict) -> list[tuple[date, Decimal]]:
        """(date, amount in BRL) of each bill payment among a card's rows, for its checking account to pay."""
        return [
            (bills.row_day(row), -bills.in_brl(row, account["currencyCode"]))
            for row in rows
            if row["_kind"] == "bill_payment"
        ]

    def _spread(self, account: dict, kinds: list[str], history_days: int) -> list[dict]:
        rng = self.rng
        offsets = sorted(rng.randrange(1, history_days + 1) for _ in range(len(kinds)))
        days = [self.today - timedelta(days=o) for o in reversed(offsets)]
        return [self._row(account, kind, day, "POSTED") for kind, day in zip(kinds, days, strict=True)]

    def _draw_kinds(self, others: int, must: list[str], kinds: list[str], weights: list[int]) -> list[str]:
        drawn = must[:others]
        drawn += self.rng.choices(kinds, weights, k=others - len(drawn))
        self.rng.shuffle(drawn)
        return drawn

    def _bank_rows(self, account: dict, posted: int, history_days: int, card_payments) -> list[dict]:
        # One salary a month, at most a sixth of the rows, evenly spaced.
        monthly = min(history_days // 30, posted // 6) if posted >= 12 else 0
        must = [k for k in _BANK_MUST if not (monthly and k == "salary")]
        if card_payments is None:  # no card in the item: bills of a card elsewhere, drawn like any row
            payments, kinds, weights = [], _BANK_KINDS, _BANK_WEIGHTS
        else:
            payments = list(card_payments)[: max(0, posted - monthly)]
            kinds, weights = _BANK_KINDS[:-1], _BANK_WEIGHTS[:-1]
        others = posted - monthly - len(payments)
        drawn = self._draw_kinds(others, must, kinds, weights)
        step = (posted - len(payments)) / (monthly + 1)
        for n in range(monthly, 0, -1):
            drawn.insert(int(step * n), "salary")
        rows = self._spread(account, drawn, history_days)
        for day, amount in payments:
            row = self._row(account, "card_bill", day, "POSTED")
            row["amount"] = -amount
            rows.append(row)
        if payments:
            rows.sort(key=lambda row: (row["date"], row["id"]))
        return rows

    def _card_rows(self, account: dict, posted: int, history_days: int, open_last: bool) -> list[dict]:
        """The card's purchases, fees and refunds, then one payment of each bill paid before today, sized to
        it (the latest bills when the rows are too few: at most a sixth of them are payments); with
        ``open_last`` the last closed bill stays unpaid."""
        rng = self.rng
        closing_day, due_days = bills.card_cycle(account)
        closed = bills.closings(self.today - timedelta(days=history_days), self.today, closing_day)
        due_dates = [(closing, closing + timedelta(days=due_days)) for closing in closed]
        paid = [(closing, due - timedelta(days=rng.randrange(0, 4))) for closing, due in due_dates]
        paid = [(closing, day) for closing, day in paid if day < self.today]
        if open_last:
            paid = [(closing, day) for closing, day in paid if closing != self._last_closing(account)]
        paid = paid[len(paid) - min(len(paid), posted // 6 if posted >= 12 else 0) :]
        drawn = self._draw_kinds(posted - len(paid), _CARD_MUST, _CARD_KINDS, _CARD_WEIGHTS)
        rows = self._spread(account, drawn, history_days)
        self._refund_purchases(rows, closing_day)
        currency = account["currencyCode"]
        for closing, day in paid:
            opened = bills.month_shift(closing, -1)
            spent = [
                row
                for row in rows
                if row["_kind"] != "bill_payment" and opened < bills.row_day(row) <= closing
            ]
            _charges, total = bills.bill_amounts(currency, spent, [], closing + timedelta(days=due_days))
            # A cycle with nothing to pay gets a purchase instead, so the card keeps its count of rows.
            row = self._row(account, "bill_payment" if total > 0 else "purchase", day, "POSTED")
            if total > 0:
                row["amount"] = -total if self.card_expense_positive else total
            rows.append(row)
        rows.sort(key=lambda row: (row["date"], row["id"]))
        return rows

    def _refund_purchases(self, rows: list[dict], closing_day: int) -> None:
        """Each refund ("ESTORNO") gives back a purchase of its own cycle, made on or before it, so no bill
        is a credit; a refund with no such purchase is a purchase of the same merchant instead."""
        refunded = set()
        for refund in (row for row in rows if row["_kind"] == "refund"):
            day = bills.row_day(refund)
            opened = bills.month_shift(bills.closings(day, day + timedelta(days=31), closing_day)[0], -1)
            bought = [
                row
                for row in rows
                if row["_kind"] == "purchase"
                and row["id"] not in refunded
                and opened < bills.row_day(row) <= day
            ]
            if bought:
                purchase = self.rng.choice(bought)
                refunded.add(purchase["id"])
                refund["amount"] = -purchase["amount"]
                refund["description"] = f"ESTORNO {purchase['description']}"
                refund["descriptionRaw"] = f"ESTORNO {purchase['descriptionRaw']}"
                refund["category"] = purchase["category"]
                refund["creditCardMetadata"]["payeeMCC"] = purchase["creditCardMetadata"]["payeeMCC"]
                refund["creditCardMetadata"]["purchaseDate"] = purchase["date"]
            else:
                refund.update(
                    _kind="purchase",
                    amount=-refund["amount"],
                    type="DEBIT",
                    description=refund["descriptionRaw"],
                )

    def _pending_rows(self, account: dict, pending: int) -> list[dict]:
        rng = self.rng
        is_bank = account["type"] == "BANK"
        rows = []
        for i in range(pending):
            if is_bank and i == 1:
                day = self.today + timedelta(days=rng.randrange(3, 21))  # a scheduled payment, dated ahead
            else:
                day = self.today - timedelta(days=rng.randrange(1, 4))
            kind = rng.choice(["pix_out", "boleto"] if is_bank else ["purchase", "purchase", "foreign"])
            rows.append(self._row(account, kind, day, "PENDING"))
        return rows

    def _link_bills(self, rows: list[dict], account: dict) -> None:
        """``creditCardMetadata.billId``: each row of a closed cycle, and each payment of its bill."""
        closing_day, due_days = bills.card_cycle(account)
        for closing, _due, spent, payments in bills.cycles(rows, self.today, closing_day, due_days):
            the_id = bills.bill_id(account["id"], closing)
            for row in spent + payments:
                row["creditCardMetadata"]["billId"] = the_id

    def _last_closing(self, account: dict) -> date:
        """The closing date of the card's last closed cycle (``balanceCloseDate`` is the open cycle's)."""
        return bills.month_shift(date.fromisoformat(account["creditData"]["balanceCloseDate"][:10]), -1)

    def _settle_amounts(self, rows: list[dict], account: dict) -> Decimal:
        """Size salaries to what the account spends, and the card's limit to its largest debt.

        Returns the bank's opening balance (the running balance never goes below it), so balances stay
        plausible at any density of rows."""
        rng = self.rng
        posted = [r for r in rows if r["status"] == "POSTED"]
        if account["type"] == "BANK":
            salaries = [r for r in posted if r["_kind"] == "salary"]
            if salaries:
                spent = -sum((r["amount"] for r in posted if r["_kind"] != "salary"), ZERO)
                share = spent / len(salaries)
                for row in salaries:
                    row["amount"] = max(cents(rng, 2500, 4000), share * Decimal(rng.randrange(95, 115)) / 100)
                    row["amount"] = row["amount"].quantize(CENT)
            running = lowest = ZERO
            for row in posted:
                running += row["amount"]
                lowest = min(lowest, running)
            return (cents(rng, 1500, 9000) - lowest).quantize(CENT)
        owed = peak = ZERO
        for row in posted:
            owed += bills.in_brl(row, account["currencyCode"])
            peak = max(peak, owed)
        credit = account["creditData"]
        # the limit must cover the largest bill, as a bank would have granted
        needed = ((peak * Decimal("1.3")) / 1000).to_integral_value(rounding="ROUND_CEILING") * 1000
        credit["creditLimit"] = max(credit["creditLimit"], needed.quantize(CENT))
        credit["availableCreditLimit"] = credit["creditLimit"]
        return ZERO

    def _row(self, account: dict, kind: str, day: date, status: str) -> dict:
        rng = self.rng
        moment = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
        if day >= self.today:  # rows dated today or ahead were seen yesterday
            moment = datetime.combine(self.today - timedelta(days=1), datetime.min.time(), timezone.utc)
        created = moment + timedelta(seconds=rng.randrange(7200, 82800), milliseconds=rng.randrange(1000))
        created_iso = created.strftime("%Y-%m-%dT%H:%M:%S.") + f"{created.microsecond // 1000:03d}Z"
        row = transaction_row(
            id=seeded_uuid(rng),
            amount=ZERO,
            date=day_iso(day),
            type="DEBIT",
            status=status,
            accountId=account["id"],
            createdAt=created_iso,
            updatedAt=created_iso,
            _kind=kind,
        )
        if account["type"] == "BANK":
            self._bank_fields(row, kind, day)
        else:
            self._card_fields(row, kind, day, account["number"][-4:])
        if self.connector.get("isOpenFinance"):
            row["providerId"] = seeded_uuid(rng).replace("-", "")[:24]
            method = (row["paymentData"] or {}).get("paymentMethod")
            row["operationType"] = method or ("PAGAMENTO" if account["type"] == "CREDIT" else "OUTROS")
        return row

    def _bank_fields(self, row: dict, kind: str, day: date) -> None:
        rng = self.rng
        ddmm = day.strftime("%d/%m")
        holder = self.holder.json()
        if kind in ("pix_out", "pix_in", "ted_out", "ted_in"):
            method = "PIX" if kind.startswith("pix") else "TED"
            other = rng.choice(self.people if rng.random() < 0.7 else [c[0] for c in self.companies])
            outgoing = kind.endswith("out")
            amount = cents(rng, 5, 900) if method == "PIX" else cents(rng, 300, 6000)
            row["amount"] = -amount if outgoing else amount
            row["type"] = "DEBIT" if outgoing else "CREDIT"
            verb = "ENVIADO" if outgoing else "RECEBIDO"
            if method == "TED":
                verb = "ENVIADA" if outgoing else "RECEBIDA"
            row["description"] = f"{method} {verb} {other.name.upper()}"
            row["descriptionRaw"] = (
                f"{method} {'TRANSF' if outgoing else 'REC'} {other.name.upper()[:12]} {ddmm}"
            )
            row["category"], row["categoryId"] = (
                ("Transfer - PIX", "05070000") if method == "PIX" else ("Transfer - TED", "05080000")
            )
            payment = {
                "payer": holder if outgoing else other.json(),
                "receiver": other.json() if outgoing else holder,
                "paymentMethod": method,
                "reason": None,
                "receiverReferenceId": None,
                "referenceNumber": f"E{other.bank[1]}{day.strftime('%Y%m%d')}{rng.randrange(10**11):011d}",
                "boletoMetadata": None,
            }
            if not outgoing and rng.random() < 0.3:
                payment["receiverReferenceId"] = f"INV{rng.randrange(10**6):06d}"
            row["paymentData"] = payment
        elif kind == "boleto":
            company, short, _mcc = rng.choice(self.companies)
            amount = cents(rng, 40, 1500)
            row.update(
                amount=-amount,
                type="DEBIT",
                description=f"PAGAMENTO DE BOLETO {short}",
                descriptionRaw=f"PAG BOLETO {short[:14]}",
                category="Bills",
                categoryId="06000000",
            )
            bank = company.bank[0]
            digits = "".join(str(rng.randrange(10)) for _ in range(29))
            barcode = (
                f"{bank}9{rng.randrange(10)}{rng.randrange(1000, 9999)}{int(amount * 100):010d}{digits[:25]}"
            )
            line = (
                f"{bank}9{digits[0:1]}.{digits[1:5]}{rng.randrange(10)} {digits[5:10]}.{digits[10:15]}"
                f"{rng.randrange(10)} {digits[15:20]}.{digits[20:25]}{rng.randrange(10)} {rng.randrange(10)} "
                f"{rng.randrange(1000, 9999)}{int(amount * 100):010d}"
            )
            row["paymentData"] = {
                "payer": holder,
                "receiver": company.json(),
                "paymentMethod": "BOLETO",
                "reason": None,
                "receiverReferenceId": None,
                "referenceNumber": barcode[-12:],
                "boletoMetadata": {
                    "digitableLine": line,
                    "barcode": barcode,
                    "baseAmount": amount,
                    "penaltyAmount": ZERO,
                    "interestAmount": ZERO,
                    "discountAmount": ZERO,
                },
            }
        elif kind == "debit_card":
            name, _mcc, category = rng.choice(catalog.MERCHANTS)
            row.update(
                amount=-cents(rng, 6, 350),
                type="DEBIT",
                description=f"COMPRA CARTAO DEB {name}",
                descriptionRaw=f"CP DEB {name[:16]} {ddmm}",
                category=category,
            )
        elif kind == "fee":
            row.update(
                amount=-cents(rng, 19, 59),
                type="DEBIT",
                description="TARIFA PACOTE DE SERVICOS",
                descriptionRaw="TAR PACOTE SERV",
                category="Bank fees",
                categoryId="16000000",
            )
        elif kind == "salary":
            holder_party = holder
            row.update(
                amount=cents(rng, 3500, 12000),
                type="CREDIT",
                description=f"SALARIO {self.employer.name.upper()}",
                descriptionRaw="CRED SALARIO",
                category="Salary",
                categoryId="01010000",
            )
            row["paymentData"] = {
                "payer": self.employer.json(),
                "receiver": holder_party,
                "paymentMethod": "TED",
                "reason": "Salário",
                "receiverReferenceId": None,
                "referenceNumber": None,
                "boletoMetadata": None,
            }
        else:  # card_bill
            row.update(
                amount=-cents(rng, 300, 3000),
                type="DEBIT",
                description="PAGAMENTO FATURA CARTAO",
                descriptionRaw="PGTO FATURA CARTAO",
                category="Credit card payment",
                categoryId="05100000",
            )

    def _card_fields(self, row: dict, kind: str, day: date, last4: str) -> None:
        rng = self.rng
        sign = Decimal(1) if self.card_expense_positive else Decimal(-1)
        meta = {
            "installmentNumber": None,
            "totalInstallments": None,
            "totalAmount": None,
            "purchaseDate": day_iso(day),
            "payeeMCC": None,
            "cardNumber": last4,
            "billId": None,
        }
        if kind in ("purchase", "installment", "refund"):
            name, mcc, category = rng.choice(catalog.MERCHANTS)
            amount = cents(rng, 8, 600)
            meta["payeeMCC"] = mcc
            row.update(
                amount=amount * sign, type="DEBIT", description=name, descriptionRaw=name, category=category
            )
            if kind == "installment":
                total = rng.randrange(2, 13)
                number = rng.randrange(1, total + 1)
                meta.update(installmentNumber=number, totalInstallments=total, totalAmount=amount * total)
                meta["purchaseDate"] = day_iso(day - timedelta(days=30 * (number - 1)))
                row["description"] = f"{name} PARC {number:02d}/{total:02d}"
            elif kind == "refund":
                row.update(amount=-amount * sign, type="CREDIT", description=f"ESTORNO {name}")
        elif kind == "foreign":
            name, mcc = rng.choice(catalog.FOREIGN_MERCHANTS)
            usd = cents(rng, 4, 150)
            rate = Decimal(rng.randrange(480, 590)).scaleb(-2)
            meta["payeeMCC"] = mcc
            row.update(
                amount=usd * sign,
                currencyCode="USD",
                amountInAccountCurrency=(usd * rate).quantize(CENT) * sign,
                type="DEBIT",
                description=name,
                descriptionRaw=f"{name} USD {usd}",
                category="Online services",
            )
        elif kind == "fee":
            row.update(
                amount=cents(rng, 20, 45) * sign,
                type="DEBIT",
                description="ANUIDADE DIFERENCIADA",
                descriptionRaw="ANUIDADE DIFERENCIADA",
                category="Bank fees",
            )
            meta["feeType"] = "ANNUAL_FEE"
        else:  # bill_payment: amount set once its bill is known
            row.update(
                type="CREDIT",
                description="PAGAMENTO RECEBIDO - OBRIGADO",
                descriptionRaw="PAGAMENTO RECEBIDO",
                category="Credit card payment",
            )
            meta["purchaseDate"] = None
        row["creditCardMetadata"] = meta
