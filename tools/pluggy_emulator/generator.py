"""Deterministic history: accounts and years of transactions for one item, drawn from a seeded RNG."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from . import catalog
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

    def card_account(self, item_id: str, created_at: str) -> dict:
        rng = self.rng
        last4 = f"{rng.randrange(10000):04d}"
        close = self.today.replace(day=1) + timedelta(days=32)
        close = close.replace(day=3)
        limit = Decimal(rng.randrange(50, 300) * 100).quantize(CENT)
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
                "balanceDueDate": day_iso(close + timedelta(days=7)),
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
        self, account: dict, count: int, history_days: int, pending: int
    ) -> tuple[list, Decimal]:
        """``count`` rows (``pending`` of them PENDING) and an opening balance that keeps the history sane."""
        rng = self.rng
        is_bank = account["type"] == "BANK"
        count = max(0, int(count))
        pending = max(0, min(int(pending), count))
        posted = count - pending
        history_days = max(2, int(history_days))
        # One salary (bank) or bill payment (card) a month, at most a sixth of the rows, evenly spaced.
        monthly_kind = "salary" if is_bank else "bill_payment"
        monthly = min(history_days // 30, posted // 6) if posted >= 12 else 0
        others = posted - monthly
        must = [k for k in (_BANK_MUST if is_bank else _CARD_MUST) if not (monthly and k == monthly_kind)]
        kinds = must[:others]
        kinds += rng.choices(
            _BANK_KINDS if is_bank else _CARD_KINDS,
            _BANK_WEIGHTS if is_bank else _CARD_WEIGHTS,
            k=others - len(kinds),
        )
        rng.shuffle(kinds)
        step = posted / (monthly + 1)
        for n in range(monthly, 0, -1):
            kinds.insert(int(step * n), monthly_kind)
        offsets = sorted(rng.randrange(1, history_days + 1) for _ in range(posted))
        days = [self.today - timedelta(days=o) for o in reversed(offsets)]
        rows = [self._row(account, kind, day, "POSTED") for kind, day in zip(kinds, days, strict=True)]
        for i in range(pending):
            if is_bank and i == 1:
                day = self.today + timedelta(days=rng.randrange(3, 21))  # a scheduled payment, dated ahead
            else:
                day = self.today - timedelta(days=rng.randrange(1, 4))
            kind = rng.choice(["pix_out", "boleto"] if is_bank else ["purchase", "purchase", "foreign"])
            rows.append(self._row(account, kind, day, "PENDING"))
        opening = self._settle_amounts(rows, account)
        return rows, opening

    def _settle_amounts(self, rows: list[dict], account: dict) -> Decimal:
        """Size salaries to what the account spends and bill payments to what the card owes.

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
        sign = Decimal(1) if self.card_expense_positive else Decimal(-1)
        for row in posted:
            if row["_kind"] == "bill_payment":
                paid = owed if owed > 0 else Decimal("50.00")
                row["amount"] = -sign * paid
                owed -= paid
            else:
                value = row["amountInAccountCurrency"]
                owed += (row["amount"] if value is None else value) * sign
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
        else:  # bill_payment: amount set once the card's debt is known
            row.update(
                type="CREDIT",
                description="PAGAMENTO RECEBIDO - OBRIGADO",
                descriptionRaw="PAGAMENTO RECEBIDO",
                category="Credit card payment",
            )
            meta = None
        row["creditCardMetadata"] = meta
