"""pt_BR is complete: every term the addon shows has a Brazilian Portuguese translation, and nothing is stale.

The terms come from Odoo's own exporter (the one behind `odoo-bin --i18n-export`), run on the installed
addon, so Python `_()`/`env._()`, fields, selections, views, data records, JS `_t()` and OWL templates are
all covered exactly as Odoo sees them.
"""

import re
import warnings
from collections import Counter

import polib

from odoo.tests import TransactionCase, tagged
from odoo.tools.misc import file_path
from odoo.tools.translate import TranslationModuleReader

MODULE = "caixa_pluggy"
LANG = "pt_BR"
PO_PATH = f"{MODULE}/i18n/{LANG}.po"
POT_PATH = f"{MODULE}/i18n/{MODULE}.pot"

FIX = (
    "To fix: run `tools/i18n/update_po.py` (installs/updates the addon in database caixa_pluggy_i18n, or "
    "--db NAME, regenerates caixa_pluggy/i18n/caixa_pluggy.pot with Odoo's exporter and merges it into "
    "pt_BR.po: new terms get an empty msgstr, stale ones are dropped), then translate every empty or "
    "fuzzy msgstr in caixa_pluggy/i18n/pt_BR.po (remove the fuzzy flag once reviewed)."
)

# %(name)s, %s, %d... as Python and Odoo's JS sprintf read them; %% is a literal percent sign.
PLACEHOLDER = re.compile(r"%(?:\([^)]+\))?[-+ #0]*\d*(?:\.\d+)?[sdifr%]")
TAG = re.compile(r"</?([a-zA-Z][\w.-]*)")


def _read_terms(cr, lang):
    """{msgid: (first location, pt_BR value Odoo has for it)} of the addon's current terms."""
    with warnings.catch_warnings():
        # Babel's extractor imports pkg_resources, whose deprecation warning is not ours to fix.
        warnings.filterwarnings("ignore", message=".*pkg_resources", category=UserWarning)
        reader = TranslationModuleReader(cr, modules=[MODULE], lang=lang)
        rows = list(reader)
    terms = {}
    for module, ttype, name, res_id, source, value, _comments in rows:
        if module == MODULE:
            terms.setdefault(source, (f"{ttype}:{name}:{res_id}", ttype, value))
    return terms


def _listing(msgids, where=None):
    return "\n".join(
        f"  - {msgid!r}" + (f"   ({where[msgid]})" if where and msgid in where else "")
        for msgid in sorted(msgids)
    )


@tagged("post_install", "-at_install")
class TestPtBrTranslations(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Odoo reads record terms in an active language only; activating it loads no translation.
        cls.env["res.lang"]._activate_lang(LANG)
        cls.terms = _read_terms(cls.env.cr, LANG)
        cls.po = polib.pofile(file_path(PO_PATH))
        cls.pot = polib.pofile(file_path(POT_PATH))
        cls.po_entries = [entry for entry in cls.po if not entry.obsolete]

    # --------------------------------------------------------------------------------------------------------
    # completeness and staleness
    # --------------------------------------------------------------------------------------------------------

    def test_every_term_of_the_addon_has_a_pt_br_translation_and_none_is_stale(self):
        self.assertTrue(self.terms, "Odoo's exporter found no term at all for caixa_pluggy: is it installed?")
        translated = {e.msgid for e in self.po_entries if e.msgstr.strip() and "fuzzy" not in e.flags}
        missing = set(self.terms) - translated
        stale = {e.msgid for e in self.po_entries} - set(self.terms)
        fuzzy = {e.msgid for e in self.po_entries if "fuzzy" in e.flags}
        where = {msgid: location for msgid, (location, _ttype, _value) in self.terms.items()}
        where.update({msgid: f"fuzzy, {where[msgid]}" for msgid in fuzzy & missing})
        problems = []
        if missing:
            problems.append(
                f"{len(missing)} term(s) of the code have no pt_BR translation in {PO_PATH} "
                f"(absent, empty msgstr or fuzzy):\n{_listing(missing, where)}"
            )
        if stale:
            problems.append(
                f"{len(stale)} entry(ies) of {PO_PATH} are stale, no longer in the code:\n{_listing(stale)}"
            )
        if problems:
            self.fail("\n\n".join(problems) + "\n\n" + FIX)

    def test_the_pot_template_lists_exactly_the_terms_of_the_code(self):
        template = {e.msgid for e in self.pot if not e.obsolete}
        missing, stale = set(self.terms) - template, template - set(self.terms)
        if missing or stale:
            self.fail(
                f"{POT_PATH} is out of date.\nNot in the template:\n{_listing(missing) or '  (none)'}\n"
                f"In the template but no longer in the code:\n{_listing(stale) or '  (none)'}\n\n{FIX}"
            )

    # --------------------------------------------------------------------------------------------------------
    # the translations are usable
    # --------------------------------------------------------------------------------------------------------

    def test_translations_keep_every_placeholder_and_tag_of_the_english_text(self):
        broken = []
        for entry in self.po_entries:
            if not entry.msgstr:
                continue
            if Counter(PLACEHOLDER.findall(entry.msgid)) != Counter(PLACEHOLDER.findall(entry.msgstr)):
                broken.append(f"  - placeholders differ: {entry.msgid!r} -> {entry.msgstr!r}")
            if Counter(TAG.findall(entry.msgid)) != Counter(TAG.findall(entry.msgstr)):
                broken.append(f"  - markup differs: {entry.msgid!r} -> {entry.msgstr!r}")
        self.assertFalse(
            broken, f"{PO_PATH} has translations that would break at run time:\n" + "\n".join(broken)
        )

    def test_pt_br_po_loads_into_odoo_and_translates_menus_fields_views_and_data(self):
        """Odoo itself imports the file: every record term (menu, action, field, selection, view, cron,
        activity type) then reads in Portuguese, which catches translations Odoo would reject or drop."""
        self.env["ir.module.module"]._load_module_terms([MODULE], [LANG], overwrite=True)
        expected = {e.msgid: e.msgstr for e in self.po_entries if e.msgstr and "fuzzy" not in e.flags}
        loaded = _read_terms(self.env.cr, LANG)
        record_terms = {
            msgid: (location, value)
            for msgid, (location, ttype, value) in loaded.items()
            if ttype in ("model", "model_terms") and msgid in expected
        }
        self.assertTrue(record_terms, "no record term (menu, field, view...) was found to check")
        wrong = [
            f"  - {msgid!r}: Odoo shows {value!r}, the .po says {expected[msgid]!r}   ({location})"
            for msgid, (location, value) in sorted(record_terms.items())
            # the exporter leaves the value empty when the translation equals the English text
            if (value or msgid) != expected[msgid]
        ]
        self.assertFalse(wrong, f"{PO_PATH} did not load as written:\n" + "\n".join(wrong))
