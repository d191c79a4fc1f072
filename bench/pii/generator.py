"""The labelled PII evaluation corpus: documents in eight genres and six languages.

``generate(n, seed)`` returns ``n`` documents, each a dict::

    {"id": "doc-0001", "lang": "de", "genre": "email", "text": "...",
     "spans": [[start, end, "PHONE"], ...],          # what must be masked
     "negatives": [[start, end, "version"], ...]}     # lookalikes that must not be

Genres: ticket, email, chat, log, json, csv, config, code. Languages: en, de, fr, es,
it, nl. Every value is valid for its type (see :mod:`bench.pii.values`); names
(PERSON, ORG, LOCATION) are labelled for NER detectors. Hard negatives: version
strings with suffixes, OIDs, timestamps and epochs, order/ticket/claim numbers, ISBNs,
UUIDs, hashes, cards failing Luhn, IBANs failing mod-97, digit runs broken by a line
break, amounts, and secret-named keys holding non-secrets. Filler text holds no digits,
so nothing unlabelled looks like PII.

Only the standard library is used, so the same seed gives the same corpus everywhere.
Run ``python -m bench.pii.generator --out corpus.jsonl`` to write it out.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Callable
from pathlib import Path

from . import values as v
from .values_world import WORLD_ID_LOOKALIKES, WORLD_ID_MAKERS, WORLD_ID_TEMPLATES

LANGS = ("en", "de", "fr", "es", "it", "nl")
GENRES = ("ticket", "email", "chat", "log", "json", "csv", "config", "code")
DEFAULT_SEED = 20261112
DEFAULT_DOCS = 2400

_T = dict[str, tuple[str, ...]]
TEXT: dict[str, _T] = {
    "en": {
        "PHONE": ("Phone: {v}", "You can reach me on {v}.", "Call me at {v} after 5pm.", "My mobile is {v}.",
                  "Tel: {v}", "Please ring {v} tomorrow.", "Cell: {v}", "My number is {v}."),
        "EMAIL": ("Email: {v}", "Please write to {v}.", "Contact me at {v} instead.", "Forward it to {v}."),
        "CREDIT_CARD": ("Card number: {v}", "The card {v} was declined.", "I paid with {v}.", "Please charge {v}."),
        "IBAN": ("IBAN: {v}", "Please refund to {v}.", "Bank account {v}"),
        "US_SSN": ("SSN: {v}", "My social security number is {v}."),
        "IP_ADDRESS": ("The login came from {v}.", "Server {v} is unreachable.", "Blocked IP {v} twice."),
        "UK_NINO": ("National Insurance number: {v}", "NINO {v}"),
        "IN_AADHAAR": ("Aadhaar: {v}", "My Aadhaar number is {v}."),
        "IN_PAN": ("PAN: {v}", "PAN card {v}"),
        "BR_CPF": ("CPF: {v}", "Brazilian taxpayer id (CPF) {v}"),
        "BR_CNPJ": ("CNPJ: {v}", "Company CNPJ {v}"),
        "CA_SIN": ("SIN: {v}", "Social Insurance Number {v}"),
        "AU_TFN": ("TFN: {v}", "Tax file number {v}"),
        "AU_MEDICARE": ("Medicare card: {v}", "Medicare no. {v}"),
        "PL_PESEL": ("PESEL: {v}", "PESEL number {v}"),
        "SE_PERSONNUMMER": ("Personnummer: {v}", "personnummer {v}"),
        "greet": ("Hi", "Hello", "Dear"), "bye": ("Thanks", "Best regards", "Cheers"),
        "subject": ("Refund request", "Cannot log in", "Invoice question", "Account update", "Delivery problem"),
        "filler": ("I have been waiting for an answer since last week.", "The problem started after the update.",
                   "Could you please look into this as soon as possible?", "Nothing has changed on our side.",
                   "Let me know if you need anything else.", "The customer is not happy with the delay.",
                   "We tried restarting the service but it did not help.", "Please keep me posted."),
        "version": ("We run version {v} in production.", "Upgraded to {v} yesterday.", "Build {v} fails."),
        "order": ("Order {v} has not arrived.", "Ticket {v} is still open.", "Claim {v} was rejected."),
        "broken": ("Reference:\n{v}", "Tracking code {v} as printed."),
    },
    "de": {
        "PHONE": ("Telefon: {v}", "Tel.: {v}", "Sie erreichen mich unter {v}.", "Handy: {v}",
                  "Rufen Sie mich unter {v} an.",
                  "Mobil: {v}", "Tel. {v}", "Meine Nummer: {v}"),
        "EMAIL": ("E-Mail: {v}", "Bitte schreiben Sie an {v}.", "Kontakt: {v}"),
        "CREDIT_CARD": ("Kreditkarte: {v}", "Die Karte {v} wurde abgelehnt.", "Bezahlt mit Karte {v}."),
        "IBAN": ("IBAN: {v}", "Bitte überweisen Sie auf {v}.", "Kontonummer (IBAN) {v}"),
        "DE_TAX_ID": ("Steuer-ID: {v}", "Steueridentifikationsnummer {v}", "IdNr. {v}"),
        "IP_ADDRESS": ("Zugriff von {v} blockiert.", "Der Server {v} antwortet nicht."),
        "greet": ("Hallo", "Guten Tag", "Sehr geehrte Damen und Herren"),
        "bye": ("Viele Grüße", "Mit freundlichen Grüßen"),
        "subject": ("Rückerstattung", "Anmeldung nicht möglich", "Frage zur Rechnung", "Lieferproblem"),
        "filler": ("Ich warte seit letzter Woche auf eine Antwort.", "Das Problem trat nach dem Update auf.",
                   "Könnten Sie sich das bitte schnell ansehen?", "Bei uns hat sich nichts geändert.",
                   "Der Kunde ist mit der Verzögerung unzufrieden.", "Bitte halten Sie mich auf dem Laufenden."),
        "version": ("Wir nutzen Version {v} produktiv.", "Gestern auf {v} aktualisiert."),
        "order": ("Bestellung {v} ist nicht angekommen.", "Vorgang {v} ist noch offen.", "Schadennummer {v}"),
        "broken": ("Referenz:\n{v}", "Sendungsnummer {v} wie gedruckt."),
    },
    "fr": {
        "PHONE": ("Tél. : {v}", "Tél.: {v}", "Vous pouvez me joindre au {v}.", "Mon portable : {v}", "Appelez le {v}.",
                  "Téléphone : {v}", "Joignable au {v}"),
        "EMAIL": ("Courriel : {v}", "Écrivez-moi à {v}.", "Contact : {v}"),
        "CREDIT_CARD": ("Carte bancaire : {v}", "La carte {v} a été refusée."),
        "IBAN": ("IBAN : {v}", "Merci de rembourser sur le compte {v}."),
        "FR_NIR": ("Numéro de sécurité sociale : {v}", "N° de sécu {v}", "NIR : {v}"),
        "IP_ADDRESS": ("Connexion depuis {v} refusée.", "Le serveur {v} ne répond plus."),
        "greet": ("Bonjour", "Madame, Monsieur"), "bye": ("Cordialement", "Bien à vous"),
        "subject": ("Demande de remboursement", "Connexion impossible", "Question sur la facture"),
        "filler": ("J'attends une réponse depuis la semaine dernière.", "Le problème est apparu après la mise à jour.",
                   "Pourriez-vous regarder cela rapidement ?", "Rien n'a changé de notre côté.",
                   "Le client est mécontent du retard.", "Merci de me tenir informé."),
        "version": ("Nous utilisons la version {v} en production.", "Mise à jour vers {v} hier."),
        "order": ("La commande {v} n'est pas arrivée.", "Le ticket {v} est toujours ouvert."),
        "broken": ("Référence :\n{v}", "Numéro de suivi {v} tel qu'imprimé."),
    },
    "es": {
        "PHONE": ("Teléfono: {v}", "Móvil: {v}", "Llámeme al {v}.", "Tfno.: {v}", "Puede contactarme en el {v}.",
                  "Tel.: {v}"),
        "EMAIL": ("Correo: {v}", "Escríbame a {v}.", "Contacto: {v}"),
        "CREDIT_CARD": ("Tarjeta: {v}", "La tarjeta {v} fue rechazada."),
        "IBAN": ("IBAN: {v}", "Por favor, reembolsen a la cuenta {v}."),
        "ES_NIF": ("DNI: {v}", "Mi DNI es {v}.", "NIF {v}"),
        "ES_NIE": ("NIE: {v}", "Número de extranjero {v}"),
        "IP_ADDRESS": ("Acceso desde {v} bloqueado.", "El servidor {v} no responde."),
        "greet": ("Hola", "Buenos días", "Estimados señores"), "bye": ("Saludos", "Atentamente"),
        "subject": ("Solicitud de reembolso", "No puedo iniciar sesión", "Consulta sobre la factura"),
        "filler": ("Espero una respuesta desde la semana pasada.", "El problema empezó tras la actualización.",
                   "¿Podrían revisarlo lo antes posible?", "No hemos cambiado nada.",
                   "El cliente no está contento con el retraso.", "Manténganme informado, por favor."),
        "version": ("Usamos la versión {v} en producción.", "Actualizado a {v} ayer."),
        "order": ("El pedido {v} no ha llegado.", "La incidencia {v} sigue abierta."),
        "broken": ("Referencia:\n{v}", "Número de seguimiento {v} tal cual."),
    },
    "it": {
        "PHONE": ("Tel.: {v}", "Cellulare: {v}", "Mi può chiamare al {v}.", "Telefono: {v}", "Cell. {v}"),
        "EMAIL": ("Email: {v}", "Scrivetemi a {v}.", "Contatto: {v}"),
        "CREDIT_CARD": ("Carta di credito: {v}", "La carta {v} è stata rifiutata."),
        "IBAN": ("IBAN: {v}", "Rimborsate sul conto {v}, grazie."),
        "IT_FISCAL_CODE": ("Codice fiscale: {v}", "C.F. {v}", "il mio codice fiscale è {v}"),
        "IP_ADDRESS": ("Accesso da {v} bloccato.", "Il server {v} non risponde."),
        "greet": ("Ciao", "Buongiorno", "Gentili signori"), "bye": ("Saluti", "Cordiali saluti"),
        "subject": ("Richiesta di rimborso", "Accesso impossibile", "Domanda sulla fattura"),
        "filler": ("Aspetto una risposta dalla settimana scorsa.", "Il problema è iniziato dopo l'aggiornamento.",
                   "Potreste controllare al più presto?", "Da parte nostra non è cambiato nulla.",
                   "Il cliente non è contento del ritardo.", "Tenetemi aggiornato, per favore."),
        "version": ("Usiamo la versione {v} in produzione.", "Aggiornato a {v} ieri."),
        "order": ("L'ordine {v} non è arrivato.", "Il ticket {v} è ancora aperto."),
        "broken": ("Riferimento:\n{v}", "Codice di tracciamento {v} come stampato."),
    },
    "nl": {
        "PHONE": ("Telefoon: {v}", "Mobiel: {v}", "Bel mij op {v}.", "Tel.: {v}", "U kunt mij bereiken op {v}."),
        "EMAIL": ("E-mail: {v}", "Mail naar {v}.", "Contact: {v}"),
        "CREDIT_CARD": ("Creditcard: {v}", "De kaart {v} is geweigerd."),
        "NL_BSN": ("BSN: {v}", "Mijn burgerservicenummer is {v}."),
        "IBAN": ("IBAN: {v}", "Graag terugstorten op rekening {v}."),
        "IP_ADDRESS": ("Inlog vanaf {v} geblokkeerd.", "Server {v} reageert niet."),
        "greet": ("Hallo", "Beste", "Geachte heer, mevrouw"), "bye": ("Groeten", "Met vriendelijke groet"),
        "subject": ("Terugbetaling", "Kan niet inloggen", "Vraag over factuur"),
        "filler": ("Ik wacht al sinds vorige week op een antwoord.", "Het probleem begon na de update.",
                   "Kunt u dit zo snel mogelijk bekijken?", "Aan onze kant is niets veranderd.",
                   "De klant is niet blij met de vertraging.", "Houd me op de hoogte."),
        "version": ("We draaien versie {v} in productie.", "Gisteren bijgewerkt naar {v}."),
        "order": ("Bestelling {v} is niet aangekomen.", "Ticket {v} staat nog open."),
        "broken": ("Referentie:\n{v}", "Trackingcode {v} zoals afgedrukt."),
    },
}  # fmt: skip

FIRST = ("Anna", "Lukas", "Marie", "Jean", "Lucía", "Marco", "Sophie", "Daan", "Emma", "Javier", "Giulia", "Pieter",
         "Oliver", "Léa", "Matteo", "Hannah", "Pablo", "Chloé", "Jonas", "Francesca", "James", "Élodie", "Sven",
         "Noor")  # fmt: skip
LAST = ("Müller", "Schmidt", "Dubois", "Martin", "García", "López", "Rossi", "Bianchi", "de Vries", "Jansen", "Smith",
        "Brown", "Lefèvre", "Fernández", "Ricci", "Bakker", "Wagner", "Moreau", "Romano", "Visser", "Taylor",
        "Weber")  # fmt: skip
ORGS = ("Acme GmbH", "Globex SA", "Initech BV", "Umbrella S.p.A.", "Stark Industries", "Tyrell Corp", "Nordwind AG",
        "Soylent S.L.", "Hooli Ltd", "Vandelay Industries")  # fmt: skip
CITIES = ("Berlin", "Munich", "Paris", "Lyon", "Madrid", "Barcelona", "Rome", "Milan", "Amsterdam", "Rotterdam",
          "London", "Dublin", "Vienna", "Zurich", "Brussels", "Warsaw", "Stockholm")  # fmt: skip
DOMAINS = ("example.com", "mail.example.org", "firma.de", "societe.fr", "empresa.es", "azienda.it", "bedrijf.nl",
           "corp.co.uk", "customer-support.example.net")  # fmt: skip


class Doc:
    """Text built piece by piece, recording the spans of entities and negatives."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0
        self.spans: list[list[object]] = []
        self.negatives: list[list[object]] = []

    def t(self, text: str) -> Doc:
        self.parts.append(text)
        self.size += len(text)
        return self

    def e(self, value: str, entity: str) -> Doc:
        self.spans.append([self.size, self.size + len(value), entity])
        return self.t(value)

    def n(self, value: str, kind: str) -> Doc:
        self.negatives.append([self.size, self.size + len(value), kind])
        return self.t(value)

    def tpl(self, template: str, value: str, entity: str | None = None, kind: str | None = None) -> Doc:
        before, after = template.split("{v}")
        self.t(before)
        if entity is not None:
            self.e(value, entity)
        else:
            self.n(value, kind or "other")
        return self.t(after)

    def text(self) -> str:
        return "".join(self.parts)


class Maker:
    """Draws values for one document."""

    def __init__(self, rng: random.Random, lang: str) -> None:
        self.rng = rng
        self.lang = lang
        self.words = TEXT[lang]

    def pick(self, key: str) -> str:
        return self.rng.choice(self.words[key])

    def person(self, doc: Doc) -> str:
        name = f"{self.rng.choice(FIRST)} {self.rng.choice(LAST)}"
        doc.e(name, "PERSON")
        return name

    def email(self) -> str:
        first, last = self.rng.choice(FIRST), self.rng.choice(LAST)
        local = self.rng.choice([f"{first}.{last}", f"{first[0]}{last}", f"{first}_{last}{self.rng.randint(1, 99)}",
                                 f"{first}+support", "info", "billing"])  # fmt: skip
        local = "".join(c for c in local.lower() if c.isascii() and (c.isalnum() or c in "._+")) or "user"
        return f"{local}@{self.rng.choice(DOMAINS)}"

    def phone(self, *, ambiguous_ok: bool = True) -> tuple[str, bool]:
        countries = v.LANG_COUNTRIES[self.lang]
        country = self.rng.choice(countries) if self.rng.random() < 0.75 else self.rng.choice(v.PHONE_COUNTRIES)
        while True:
            value, ambiguous = v.phone(self.rng, country)
            if ambiguous_ok or not ambiguous:
                return value, ambiguous

    def entity_sentence(self, doc: Doc, entity: str) -> None:
        """A sentence holding one entity, with its language's context words."""
        rng = self.rng
        if entity == "PHONE":
            value, _ = self.phone()
            doc.tpl(self.pick("PHONE"), value, "PHONE")
        elif entity == "EMAIL":
            doc.tpl(self.pick("EMAIL"), self.email(), "EMAIL")
        elif entity == "CREDIT_CARD":
            doc.tpl(self.pick("CREDIT_CARD"), v.card(rng), "CREDIT_CARD")
        elif entity == "IBAN":
            doc.tpl(self.pick("IBAN"), v.iban(rng), "IBAN")
        elif entity == "IP_ADDRESS":
            doc.tpl(self.pick("IP_ADDRESS"), v.ipv4(rng) if rng.random() < 0.6 else v.ipv6(rng), "IP_ADDRESS")
        elif entity in _ID_MAKERS:
            templates = self.words.get(entity) or TEXT[_ID_LANG[entity]].get(entity) or WORLD_ID_TEMPLATES[entity]
            value = _ID_MAKERS[entity](rng)
            doc.tpl(rng.choice(templates), value, entity)
        else:
            raise ValueError(entity)

    def negative_sentence(self, doc: Doc) -> None:
        rng = self.rng
        kind = rng.choice(("version", "order", "order", "broken", "oid", "timestamp", "isbn", "uuid", "hash", "card",
                           "iban", "amount", "version", "lookalike", "lookalike", "lookalike"))  # fmt: skip
        if kind == "version":
            doc.tpl(self.pick("version"), v.version_string(rng), kind="version")
        elif kind == "order":
            doc.tpl(self.pick("order"), v.order_number(rng), kind="order")
        elif kind == "broken":
            doc.tpl(self.pick("broken"), v.broken_digits(rng), kind="broken")
        elif kind == "oid":
            doc.tpl("OID {v}", v.oid(rng), kind="oid")
        elif kind == "timestamp":
            doc.tpl("({v})", v.timestamp(rng), kind="timestamp")
        elif kind == "isbn":
            doc.tpl("ISBN {v}", v.isbn(rng), kind="isbn")
        elif kind == "uuid":
            doc.tpl("request_id={v}", v.a_uuid(rng), kind="uuid")
        elif kind == "hash":
            doc.tpl("sha {v}", v.hash_value(rng), kind="hash")
        elif kind == "card":
            doc.tpl("test {v} (fails Luhn)", v.card(rng, valid=False), kind="card-invalid")
        elif kind == "iban":
            doc.tpl("IBAN? {v}", v.iban(rng, valid=False), kind="iban-invalid")
        elif kind == "lookalike":
            sub = rng.choice(("pan-shaped", "lower-code", "lower-code", "letter-word", "plus-sum", "world-id"))
            if sub == "pan-shaped":
                doc.tpl(rng.choice(("SKU {v}", "Part {v} is back in stock.", "Booking ref {v}")), v.pan_shaped(rng),
                        kind=sub)  # fmt: skip
            elif sub == "lower-code":
                doc.tpl(rng.choice(("code {v}", "item {v} shipped", "ref: {v}")), v.lower_code(rng), kind=sub)
            elif sub == "world-id":
                # An id of its shape and label whose check character is wrong (shapes a phone
                # or a card shares are left out: those are masked as phones or cards).
                entity = rng.choice(_LOOKALIKE_IDS)
                value = WORLD_ID_LOOKALIKES[entity](rng)
                while value.replace("-", "").isdigit():  # digits (and a dash) only: a phone's or an id's shape
                    value = WORLD_ID_LOOKALIKES[entity](rng)
                doc.tpl(rng.choice(WORLD_ID_TEMPLATES[entity]), value, kind=sub)
            elif sub == "letter-word":
                doc.tpl("seen {v} day", v.letter_word(rng), kind=sub)
            else:
                doc.tpl("total {v} ok", v.plus_sum(rng), kind=sub)
        else:
            doc.tpl("{v}", v.amount(rng), kind="amount")


_ID_MAKERS: dict[str, Callable[[random.Random], str]] = {
    "US_SSN": lambda rng: v.ssn(rng)[0],
    "UK_NINO": v.uk_nino,
    "DE_TAX_ID": v.de_tax_id,
    "FR_NIR": v.fr_nir,
    "ES_NIF": v.es_nif,
    "ES_NIE": v.es_nie,
    "IT_FISCAL_CODE": v.it_fiscal_code,
    "IN_AADHAAR": v.in_aadhaar,
    "IN_PAN": v.in_pan,
    "BR_CPF": v.br_cpf,
    "BR_CNPJ": v.br_cnpj,
    "CA_SIN": v.ca_sin,
    "AU_TFN": v.au_tfn,
    "AU_MEDICARE": v.au_medicare,
    "NL_BSN": v.nl_bsn,
    "PL_PESEL": v.pl_pesel,
    "SE_PERSONNUMMER": v.se_personnummer,
    **WORLD_ID_MAKERS,
}
#: Lookalikes of the ids with letters or a prefix no phone or card has.
_LOOKALIKE_IDS = ("CH_AHV", "SG_NRIC", "IE_PPS", "MX_CURP", "FI_HETU")
#: Identity numbers outside the corpus's six languages, written in English prose.
_WORLD_IDS = (
    "IN_AADHAAR",
    "IN_PAN",
    "BR_CPF",
    "BR_CNPJ",
    "CA_SIN",
    "AU_TFN",
    "AU_MEDICARE",
    "PL_PESEL",
    "SE_PERSONNUMMER",
    *WORLD_ID_MAKERS,
)
_ID_LANG = {"US_SSN": "en", "UK_NINO": "en", "DE_TAX_ID": "de", "FR_NIR": "fr", "ES_NIF": "es", "ES_NIE": "es",
            "IT_FISCAL_CODE": "it", "NL_BSN": "nl", **dict.fromkeys(_WORLD_IDS, "en")}  # fmt: skip
_LANG_IDS = {"en": ("US_SSN", "UK_NINO", *_WORLD_IDS), "de": ("DE_TAX_ID",), "fr": ("FR_NIR",),
             "es": ("ES_NIF", "ES_NIE"), "it": ("IT_FISCAL_CODE",), "nl": ("NL_BSN",)}  # fmt: skip
_PROSE_ENTITIES = ("PHONE", "PHONE", "PHONE", "EMAIL", "CREDIT_CARD", "IBAN", "IP_ADDRESS")

from .genres import GENRE_BUILDERS  # noqa: E402  (the genres use Doc and Maker)


def generate(n_docs: int = DEFAULT_DOCS, seed: int = DEFAULT_SEED) -> list[dict[str, object]]:
    """``n_docs`` labelled documents, the same for the same seed."""
    rng = random.Random(seed)
    docs = []
    for index in range(n_docs):
        lang = LANGS[index % len(LANGS)]
        genre = GENRES[(index // len(LANGS)) % len(GENRES)]
        maker = Maker(rng, lang)
        doc = Doc()
        GENRE_BUILDERS[genre](maker, doc)
        text = doc.text()
        docs.append({"id": f"doc-{index:05d}", "lang": lang, "genre": genre, "text": text, "spans": doc.spans,
                     "negatives": doc.negatives})  # fmt: skip
    return docs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the labelled PII corpus as JSONL.")
    parser.add_argument("--docs", type=int, default=DEFAULT_DOCS)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    with args.out.open("w", encoding="utf-8") as out:
        for doc in generate(args.docs, args.seed):
            out.write(json.dumps(doc, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
