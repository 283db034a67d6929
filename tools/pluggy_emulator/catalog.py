"""Static reference data: connectors (banks), people and companies the generated transactions mention."""

from __future__ import annotations

_PRODUCTS = ["ACCOUNTS", "CREDIT_CARDS", "TRANSACTIONS", "PAYMENT_DATA", "IDENTITY"]
_CREDENTIALS = [
    {
        "name": "user",
        "label": "Usuário",
        "type": "text",
        "placeholder": "user-ok",
        "mfa": False,
        "validation": "^.{3,}$",
        "validationMessage": "O usuário deve ter ao menos 3 caracteres",
        "optional": False,
    },
    {
        "name": "password",
        "label": "Senha",
        "type": "password",
        "placeholder": "password-ok",
        "mfa": False,
        "validation": "^.{3,}$",
        "validationMessage": "A senha deve ter ao menos 3 caracteres",
        "optional": False,
    },
]

# (id, name, type, sandbox, open finance, health status, stage, colour, url)
_CONNECTORS = [
    (0, "Pluggy Bank", "PERSONAL_BANK", True, False, "ONLINE", None, "ef294b", "https://pluggy.ai"),
    (1, "Pluggy Bank Empresas", "BUSINESS_BANK", True, False, "ONLINE", None, "ef294b", "https://pluggy.ai"),
    (201, "Itaú", "PERSONAL_BANK", False, True, "ONLINE", None, "ec7000", "https://www.itau.com.br"),
    (202, "Bradesco", "PERSONAL_BANK", False, True, "ONLINE", None, "cc092f", "https://banco.bradesco"),
    (203, "Banco do Brasil", "PERSONAL_BANK", False, True, "ONLINE", None, "465eff", "https://www.bb.com.br"),
    (
        204,
        "Caixa Econômica Federal",
        "PERSONAL_BANK",
        False,
        False,
        "UNSTABLE",
        None,
        "005ca9",
        "https://www.caixa.gov.br",
    ),
    (205, "Nubank", "PERSONAL_BANK", False, True, "ONLINE", None, "820ad1", "https://nubank.com.br"),
    (
        206,
        "Santander Empresas",
        "BUSINESS_BANK",
        False,
        True,
        "ONLINE",
        "BETA",
        "ec0000",
        "https://www.santander.com.br",
    ),
    (
        207,
        "Banco Inter",
        "PERSONAL_BANK",
        False,
        False,
        "OFFLINE",
        None,
        "ff7a00",
        "https://www.bancointer.com.br",
    ),
]


def connectors(image_base: str) -> list[dict]:
    """Connector JSON objects; logos are served by the emulator itself (no internet)."""
    result = []
    for cid, name, ctype, sandbox, open_finance, status, stage, colour, url in _CONNECTORS:
        result.append(
            {
                "id": cid,
                "name": name,
                "institutionUrl": url,
                "imageUrl": f"{image_base}/connect/icons/{cid}.svg",
                "primaryColor": colour,
                "type": ctype,
                "country": "BR",
                "credentials": [] if open_finance else [dict(c) for c in _CREDENTIALS],
                "hasMFA": False,
                "oauth": open_finance,
                "oauthUrl": f"{url}/openfinance/authorize" if open_finance else None,
                "resetPasswordUrl": None,
                "health": {"status": status, "stage": stage},
                "products": list(_PRODUCTS),
                "isOpenFinance": open_finance,
                "isSandbox": sandbox,
                "supportsPaymentInitiation": open_finance,
                "supportsScheduledPayments": open_finance,
                "supportsSmartTransfers": False,
                "supportsBoletoManagement": False,
                "supportsAutomaticPix": False,
                "createdAt": "2023-09-12T16:44:13.900Z",
                "updatedAt": "2025-11-26T13:33:44.296Z",
            }
        )
    return result


def icon_svg(name: str, colour: str) -> str:
    initials = "".join(word[0] for word in name.split()[:2]).upper() or "?"
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">'
        f'<circle cx="32" cy="32" r="32" fill="#{colour}"/>'
        '<text x="32" y="40" font-family="sans-serif" font-size="22" fill="#fff" text-anchor="middle">'
        f"{initials}</text></svg>"
    )


FIRST_NAMES = [
    "Ana",
    "Bruno",
    "Carla",
    "Daniel",
    "Eduarda",
    "Felipe",
    "Gabriela",
    "Heitor",
    "Isabela",
    "João",
    "Larissa",
    "Marcos",
    "Natália",
    "Otávio",
    "Paula",
    "Rafael",
    "Sofia",
    "Thiago",
    "Vitória",
    "Wagner",
]
LAST_NAMES = [
    "Silva",
    "Santos",
    "Oliveira",
    "Souza",
    "Rodrigues",
    "Ferreira",
    "Alves",
    "Pereira",
    "Lima",
    "Gomes",
    "Costa",
    "Ribeiro",
    "Martins",
    "Carvalho",
    "Almeida",
    "Lopes",
    "Soares",
    "Fernandes",
    "Vieira",
    "Barbosa",
]
COMPANIES = [
    ("Companhia Energética Paulista S.A.", "ENEL SP", "3514"),
    ("Sabesp Saneamento Básico S.A.", "SABESP", "3600"),
    ("Vivo Telefônica Brasil S.A.", "VIVO", "6110"),
    ("Claro S.A.", "CLARO", "6110"),
    ("Condomínio Edifício Jardins", "CONDOMINIO JARDINS", "8112"),
    ("Unimed Seguros Saúde S.A.", "UNIMED", "6550"),
    ("Escola Monteiro Lobato Ltda", "ESCOLA M LOBATO", "8513"),
    ("Prefeitura Municipal de São Paulo", "PMSP IPTU", "8411"),
    ("Distribuidora Alfa Comércio Ltda", "DISTRIB ALFA", "4639"),
    ("Tech Soluções em Software Ltda", "TECH SOLUCOES", "6201"),
]
EMPLOYERS = ["Acme Indústria Ltda", "Gráfica Horizonte Ltda", "Pluggy Tecnologia Ltda"]
MERCHANTS = [
    ("IFOOD *RESTAURANTE", "5812", "Food"),
    ("UBER *TRIP", "4121", "Transport"),
    ("PAO DE ACUCAR 1234", "5411", "Groceries"),
    ("DROGASIL 0456", "5912", "Pharmacy"),
    ("POSTO IPIRANGA", "5541", "Gas stations"),
    ("MERCADOLIVRE*VENDEDOR", "5399", "Shopping"),
    ("AMERICANAS.COM", "5311", "Shopping"),
    ("LOJAS RENNER", "5651", "Clothing"),
    ("CINEMARK", "7832", "Leisure"),
    ("SPOTIFY", "5815", "Digital services"),
]
FOREIGN_MERCHANTS = [
    ("AMAZON WEB SERVICES", "5734"),
    ("NETFLIX.COM", "4899"),
    ("GITHUB, INC.", "5734"),
    ("APPLE.COM/BILL", "5735"),
]
BANKS = [
    ("001", "00000000"),
    ("237", "60746948"),
    ("341", "60701190"),
    ("104", "00360305"),
    ("260", "18236120"),
]
