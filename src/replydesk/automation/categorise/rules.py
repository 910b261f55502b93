"""The offline categoriser's patterns: one family per category, English first, plus the common
German, French and Spanish phrasings of auto-replies, unsubscribes and answers.

Each family is a list of ``(pattern, weight)``; a family's score is its best weight. The
patterns are plain alternations with bounded gaps (``.{0,40}``), never nested quantifiers,
so matching stays linear on arbitrary text. Text is lower-cased before matching; accents are
kept (``zurück``, ``désabonner``) and the patterns also accept the common unaccented spelling.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from replydesk.leads.vocabulary import LeadCategory


@dataclass(frozen=True)
class Rule:
    pattern: re.Pattern[str]
    weight: float
    name: str


def _rules(family: str, *items: tuple[str, float]) -> list[Rule]:
    return [
        Rule(re.compile(p, re.IGNORECASE), w, f"{family}:{i}") for i, (p, w) in enumerate(items)
    ]


# A sentence-local negation before "interested" etc. ("not really interested", "no longer
# interested", "nicht interessiert", "pas intéressé", "no estamos interesados").
_NEG = r"(?:not|n't|no longer|never|nicht|kein|pas|plus|no)\b"

UNSUBSCRIBE = _rules(
    "unsubscribe",
    (r"\bunsubscribe\b", 0.95),
    (
        r"\b(?:remove|take|delete)\s+(?:me|us|my\s+(?:e-?mail|address))\b.{0,40}\b(?:list|"
        r"database|mailing|from\s+(?:your|this|these|all))",
        0.95,
    ),
    (r"\b(?:remove|take)\s+me\s+off\b", 0.95),
    (r"\bstop\s+(?:e-?mailing|emailing|contacting|messaging|sending|writing|spamming)\b", 0.95),
    (
        r"\b(?:do\s+not|don'?t|never)\s+(?:contact|e-?mail|email|message|write\s+to)\s+"
        r"(?:me|us)\b",
        0.9,
    ),
    (r"\bopt\s*-?\s*out\b", 0.9),
    (r"\bno\s+(?:more|further)\s+(?:e-?mails|emails|messages|contact)\b", 0.9),
    (r"^\s*(?:stop|stopp|unsubscribe|remove|baja|stop all)\s*[.!]*\s*$", 0.95),
    (r"\bspam\b.{0,30}\b(?:report|block)", 0.8),
    # German
    (r"\b(?:abmelden|abbestellen|austragen)\b", 0.95),
    (r"\b(?:keine|nicht)\s+(?:weiteren?\s+)?(?:e-?mails|emails|nachrichten|mails)\s+mehr\b", 0.9),
    (r"\bkeine\s+weiteren\s+(?:e-?mails|emails|nachrichten|mails)\b", 0.9),
    (r"\b(?:entfernen|löschen|loeschen|streichen)\s+sie\s+(?:mich|meine)\b", 0.95),
    (r"\bnicht\s+mehr\s+(?:kontaktieren|anschreiben)\b", 0.9),
    (r"\bwiderspreche\b", 0.8),
    # French
    (r"\bd[ée]sabonn|\bd[ée]sinscri", 0.95),
    (r"\bne\s+(?:plus|pas)\s+(?:me\s+)?(?:recevoir|contacter|[ée]crire|envoyer)\b", 0.9),
    (r"\b(?:retirez|supprimez|enlevez)[- ]moi\b", 0.95),
    (r"\bne\s+me\s+(?:contactez|[ée]crivez|envoyez)\s+plus\b", 0.95),
    # Spanish
    (r"\b(?:dar|darme|den|denme|d[ée]me)\s+de\s+baja\b", 0.95),
    (
        r"\bno\s+(?:me\s+)?(?:env[íi]en|env[íi]e|escriban|escriba|contacten|contacte)\s+m[áa]s\b",
        0.95,
    ),
    (r"\bno\s+quiero\s+recibir\b", 0.9),
    (r"\b(?:elim[íi]nen|elim[íi]neme|eliminarme|b[óo]rrenme|qu[íi]tenme)\b", 0.9),
)

OUT_OF_OFFICE = _rules(
    "out_of_office",
    (r"\bout\s+of\s+(?:the\s+)?office\b", 0.95),
    (r"\booo\b", 0.8),
    (r"\b(?:automatic|auto)[- ]?(?:reply|response|responder)\b", 0.9),
    (
        r"\b(?:on|currently\s+on)\s+(?:annual\s+|parental\s+|maternity\s+|paternity\s+|sick\s+)?"
        r"(?:vacation|holiday|holidays|leave|pto|sabbatical)\b",
        0.9,
    ),
    (r"\b(?:limited|no|intermittent)\s+access\s+to\s+(?:my\s+)?e-?mail", 0.9),
    (
        r"\b(?:i\s+am|i'm|i\s+will\s+be)\s+(?:currently\s+)?(?:away|travel+ing|off)\b.{0,60}"
        r"\b(?:until|till|through|back|return)",
        0.9,
    ),
    (r"\bwill\s+(?:be\s+)?(?:back|return|returning)\s+(?:in\s+the\s+office\s+)?(?:on|from)\b", 0.7),
    (r"\b(?:away\s+from\s+(?:the\s+|my\s+)?(?:office|desk))\b", 0.85),
    # German
    (r"\babwesen(?:d|heit)", 0.95),
    (r"\b(?:au(?:ß|ss)er\s+haus|nicht\s+im\s+b[üu]ro)\b", 0.95),
    (r"\b(?:im|in)\s+urlaub\b|\burlaubsbedingt\b", 0.9),
    (r"\bautomatische\s+antwort\b", 0.95),
    (
        r"\bab\s+dem\s+\d{1,2}\.\s*\d{0,2}\.?\s*(?:wieder|zur[üu]ck)\b|\bwieder\s+im\s+b[üu]ro\b",
        0.85,
    ),
    # French
    (r"\babsente?\s+(?:du\s+bureau|jusqu)", 0.95),
    (r"\b(?:en\s+cong[ée]s?|en\s+vacances)\b", 0.9),
    (r"\br[ée]ponse\s+automatique\b", 0.95),
    (r"\bde\s+retour\s+(?:le|au\s+bureau|[àa]\s+partir)\b", 0.85),
    # Spanish
    (r"\bfuera\s+de\s+(?:la\s+)?oficina\b", 0.95),
    (r"\bde\s+vacaciones\b", 0.9),
    (r"\brespuesta\s+autom[áa]tica\b", 0.95),
    (r"\b(?:estar[ée]|estoy)\s+ausente\b", 0.9),
)

REFERRAL = _rules(
    "referral",
    (
        r"\b(?:reach\s+out|speak|talk)\s+(?:to|with)\s+(?:my\s+colleague|our\s+|[\w.+-]+@|"
        r"[a-z]+\s+(?:at|on|in)\b)",
        0.85,
    ),
    (
        r"\b(?:please\s+)?(?:contact|email|e-mail|ping|try)\s+(?:my\s+colleague|our\s+(?:head|vp|"
        r"cto|ceo|cfo|coo|director|manager|team)|[\w.+-]+@[\w-]+\.[\w.]+)",
        0.85,
    ),
    (
        r"\b(?:the\s+right|the\s+best|a\s+better)\s+(?:person|contact)\s+(?:is|would\s+be|to\s+"
        r"(?:talk|speak)\s+to\s+(?:is|would\s+be))\b",
        0.9,
    ),
    (r"\b(?:cc'?ing|cc'd|copying|looping\s+in|loop\s+in|i'?ve\s+(?:cc|copied|looped))\b", 0.85),
    (
        r"\b(?:forwarded|forwarding|passed|passing)\s+(?:this|your\s+(?:e-?mail|message|note))\s+"
        r"(?:on\s+)?to\b",
        0.85,
    ),
    (r"\bhandles?\s+(?:this|that|these|all|our)\b.{0,40}\b(?:contact|reach|email)\b", 0.7),
    (r"\b(?:is|are)\s+(?:the\s+one|responsible\s+for|in\s+charge\s+of)\b.{0,60}@", 0.8),
    # German
    (r"\bwenden\s+sie\s+sich\s+(?:bitte\s+)?an\b", 0.9),
    (
        r"\b(?:kontaktieren|kontakt\s+aufnehmen\s+mit)\s+sie\s+(?:bitte\s+)?(?:meine[nr]?\s+"
        r"kolleg|herrn?|frau)",
        0.85,
    ),
    (
        r"\b(?:zust[äa]ndig|ansprechpartner(?:in)?)\s+(?:ist|w[äa]re)\s+(?:herr|frau|mein|"
        r"unser)",
        0.9,
    ),
    (
        r"\bhabe\s+(?:ihre\s+(?:e-?mail|nachricht)\s+)?(?:an|in\s+cc)\b.{0,40}\b(?:weitergeleitet|"
        r"gesetzt)",
        0.85,
    ),
    # French
    (
        r"\b(?:contactez|adressez-vous\s+[àa]|[ée]crivez\s+[àa])\s+(?:plut[ôo]t\s+)?(?:mon|ma|"
        r"notre|[\w.+-]+@)",
        0.85,
    ),
    (r"\bla\s+(?:bonne|meilleure)\s+personne\s+(?:est|serait)\b", 0.9),
    (r"\b(?:j'ai\s+transf[ée]r[ée]|je\s+transf[èe]re|en\s+copie)\b", 0.8),
    # Spanish
    (r"\b(?:contacte|escriba|hable)\s+(?:con|a)\s+(?:mi\s+compañer|nuestr|[\w.+-]+@)", 0.85),
    (r"\bla\s+persona\s+(?:adecuada|indicada|correcta)\s+(?:es|ser[íi]a)\b", 0.9),
    (r"\b(?:he\s+reenviado|reenv[íi]o|en\s+copia)\b", 0.8),
)

WRONG_PERSON = _rules(
    "wrong_person",
    (r"\b(?:not|wrong)\s+(?:the\s+)?(?:right|correct|appropriate)?\s*(?:person|contact)\b", 0.9),
    (r"\bwrong\s+(?:person|contact|guy|address|e-?mail)\b", 0.9),
    (r"\b(?:no\s+longer|not)\s+(?:work(?:ing)?|employed)\s+(?:at|for|with|here)\b", 0.9),
    (r"\b(?:has|have)\s+left\s+(?:the\s+company|\w+|the\s+organi[sz]ation)\b", 0.9),
    (r"\bno\s+longer\s+with\b", 0.9),
    (r"\b(?:don'?t|do\s+not)\s+work\s+(?:at|for|with)\b.{0,30}\b(?:anymore|any\s+more)\b", 0.9),
    (
        r"\b(?:not|isn'?t|nothing)\s+(?:my|in\s+my)\s+(?:area|department|responsibility|"
        r"remit|role|decision)\b",
        0.85,
    ),
    (r"\b(?:i'?m|i\s+am)\s+not\s+(?:responsible|in\s+charge|the\s+decision)", 0.85),
    (r"\bdon'?t\s+(?:handle|deal\s+with|make\s+(?:these|those|that))\b", 0.75),
    # German
    (r"\bnicht\s+(?:der|die)\s+richtige\s+ansprechpart", 0.9),
    (r"\b(?:bin|sind)\s+(?:daf[üu]r\s+)?nicht\s+zust[äa]ndig\b", 0.9),
    (r"\bnicht\s+mehr\s+(?:bei|im\s+unternehmen|f[üu]r)\b", 0.85),
    (r"\bhat\s+das\s+unternehmen\s+verlassen\b", 0.9),
    # French
    (
        r"\b(?:ne\s+suis|je\s+ne\s+suis)\s+pas\s+la\s+bonne\s+personne\b|\bpas\s+la\s+bonne\s+"
        r"personne\b",
        0.9,
    ),
    (r"\bne\s+(?:fait|fais|travaille)\s+plus\s+(?:partie|chez|pour|dans)\b", 0.9),
    (r"\ba\s+quitt[ée]\s+(?:la\s+soci[ée]t[ée]|l'entreprise)\b", 0.9),
    # Spanish
    (r"\bno\s+soy\s+la\s+persona\b", 0.9),
    (r"\bya\s+no\s+trabaja\b|\bya\s+no\s+est[áa]\s+en\b", 0.9),
    (r"\bdej[óo]\s+la\s+empresa\b", 0.9),
)

NOT_INTERESTED = _rules(
    "not_interested",
    (rf"\b{_NEG}\s+(?:\w+\s+){{0,2}}interest(?:ed)?\b", 0.9),
    (r"\bno\s+interest\b", 0.9),
    (
        r"^\s*(?:no|nope|no,?\s+thanks?(?:\s+you)?|no\s+thank\s+you|pass|not\s+for\s+us)\s*[.!]*"
        r"\s*$",
        0.9,
    ),
    (r"\bno,?\s+thank(?:s|\s+you)\b", 0.85),
    (
        r"\b(?:not|isn'?t)\s+(?:a\s+(?:good\s+)?fit|a\s+priority|relevant|for\s+us|something\s+we)\b",
        0.85,
    ),
    (r"\b(?:we'?re|we\s+are|i'?m|i\s+am)\s+(?:all\s+set|good|covered|happy\s+with)\b", 0.75),
    (
        r"\bwe\s+(?:already\s+)?(?:have|use|work\s+with)\s+(?:a|an|our\s+own)\b.{0,40}"
        r"\b(?:solution|provider|vendor|partner|tool|agency|team|in-house)\b",
        0.8,
    ),
    (r"\b(?:don'?t|do\s+not)\s+(?:need|want|require)\b", 0.8),
    (r"\bnot\s+(?:looking|in\s+the\s+market|at\s+this\s+time|right\s+now|now)\b", 0.8),
    (r"\b(?:please\s+)?(?:don'?t|do\s+not)\s+follow\s+up\b", 0.85),
    (r"\bnot\s+(?:going|moving)\s+forward\b|\bwe'?ll\s+pass\b|\bi'?ll\s+pass\b", 0.85),
    # German
    (r"\bkein(?:e|en)?\s+(?:interesse|bedarf)\b", 0.9),
    (r"\bnicht\s+interessiert\b", 0.9),
    (r"\bnein,?\s+danke\b", 0.9),
    (
        r"\bbrauchen\s+(?:wir|ich)\s+nicht\b|\bhaben\s+(?:wir|bereits)\s+(?:schon\s+)?(?:einen|"
        r"eine|bereits)\b",
        0.75,
    ),
    # French
    (r"\bpas\s+(?:int[ée]ress[ée]e?s?|besoin|pour\s+nous)\b", 0.9),
    (r"\bnon,?\s+merci\b", 0.9),
    (r"\bnous\s+(?:avons|utilisons)\s+d[ée]j[àa]\b", 0.75),
    # Spanish
    (r"\bno\s+(?:nos|me)\s+interesa\b|\bno\s+(?:estamos|estoy)\s+interesad", 0.9),
    (r"\bno,?\s+gracias\b", 0.9),
    (r"\bya\s+(?:tenemos|contamos\s+con|trabajamos\s+con)\b", 0.75),
)

MEETING_REQUEST = _rules(
    "meeting_request",
    (
        r"\b(?:set\s+up|schedule|book|arrange|organi[sz]e|find|grab|hop\s+on|jump\s+on|have)\s+"
        r"(?:a\s+|some\s+)?(?:quick\s+|short\s+|brief\s+|15[- ]?min(?:ute)?\s+|"
        r"30[- ]?min(?:ute)?\s+)?(?:call|meeting|chat|demo|time|zoom|teams|slot)\b",
        0.9,
    ),
    (
        r"\b(?:send|share)\s+(?:me\s+|over\s+)?(?:a\s+|your\s+)?(?:calendar|calendly|booking|"
        r"scheduling)\s*(?:link|invite)?\b",
        0.9,
    ),
    (r"\bcalendly\b|\bcalendar\s+(?:invite|link)\b", 0.85),
    (r"\b(?:what|which)\s+(?:times?|days?|slots?)\s+(?:work|suit|are\s+good)\b", 0.9),
    (r"\b(?:are\s+you|would\s+you\s+be)\s+(?:free|available)\b", 0.85),
    (
        r"\b(?:i'?m|i\s+am|we'?re|we\s+are)\s+(?:free|available)\s+(?:on|next|this|tomorrow|"
        r"monday|tuesday|wednesday|thursday|friday|at|between)\b",
        0.85,
    ),
    (
        r"\b(?:how|what)\s+about\s+(?:monday|tuesday|wednesday|thursday|friday|tomorrow|next\s+week"
        r")\b",
        0.85,
    ),
    (
        r"\b(?:does|would|could)\s+(?:monday|tuesday|wednesday|thursday|friday|tomorrow|next\s+"
        r"week)\b.{0,40}\b(?:work|suit)",
        0.85,
    ),
    (
        r"\b(?:happy|glad|open)\s+to\s+(?:hop\s+on|jump\s+on|have|do)\s+a\s+(?:quick\s+)?"
        r"(?:call|chat|meeting)\b",
        0.9,
    ),
    (
        r"\blet'?s\s+(?:talk|chat|speak|meet|connect)\s+(?:on|next|this|tomorrow|monday|tuesday|"
        r"wednesday|thursday|friday|at)\b",
        0.9,
    ),
    (r"\bgive\s+me\s+a\s+(?:call|ring)\b|\bcall\s+me\s+(?:on|at|tomorrow|next)\b", 0.85),
    # German
    (r"\btermin\b", 0.85),
    (
        r"\b(?:telefonat|telefonieren|gespr[äa]ch|call)\b.{0,40}\b(?:vereinbaren|ausmachen|"
        r"m[öo]glich|passt|planen)\b",
        0.85,
    ),
    (r"\bpasst\s+(?:ihnen|es\s+ihnen|dir)\b|\bh[äa]tten\s+sie\s+(?:\w+\s+){0,3}zeit\b", 0.85),
    # French
    (r"\brendez[- ]vous\b|\bun\s+cr[ée]neau\b", 0.85),
    (
        r"\b(?:un\s+appel|un\s+[ée]change|une\s+r[ée]union|une\s+d[ée]mo)\b.{0,40}\b(?:pr[ée]voir|"
        r"organiser|planifier|caler|possible)\b",
        0.85,
    ),
    (r"\b(?:[êe]tes-vous|seriez-vous)\s+disponible|\bje\s+suis\s+disponible\b", 0.85),
    (r"\bappelez[- ]moi\b", 0.8),
    # Spanish
    (
        r"\b(?:agendar|programar|coordinar|organizar)\s+(?:una\s+)?(?:llamada|reuni[óo]n|demo|"
        r"videollamada)\b",
        0.9,
    ),
    (r"\b(?:tiene|tienes)\s+(?:un\s+hueco|tiempo|disponibilidad)\b|\bestoy\s+disponible\b", 0.85),
    (r"\bll[áa]me(?:me|nos)\b", 0.8),
)

QUESTION = _rules(
    "question",
    (
        r"\bhow\s+much\b|\bwhat(?:'s|\s+is|\s+are|\s+does)\s+(?:the\s+|your\s+)?(?:price|pricing|"
        r"cost|rate|fee)s?\b",
        0.85,
    ),
    (r"\b(?:pricing|price|cost)s?\b.{0,30}\?", 0.85),
    # The generic question (weight below GENERIC_QUESTION): a request for information phrased
    # as a question ("can you send more info?") is an interested answer.
    (
        r"\b(?:how\s+(?:does|do|would|is|long)|what\s+(?:does|do|is|are|kind|exactly|makes)|do\s+"
        r"you|can\s+you|could\s+you\s+(?:explain|clarify|tell)|is\s+(?:it|there|this)|are\s+"
        r"(?:you|there)|does\s+(?:it|this|your)|who\s+(?:are|else)|which)\b[^?\n]{0,120}\?",
        0.7,
    ),
    (
        r"\b(?:integrat\w*|gdpr|soc\s*2|contract|trial|case\s+stud\w*|references?)\b[^?\n]{0,80}\?",
        0.8,
    ),
    # German
    (
        r"\b(?:was\s+kostet|wie\s+viel|wieviel|wie\s+(?:funktioniert|lange|genau)|gibt\s+es|"
        r"k[öo]nnen\s+sie|haben\s+sie|ist\s+(?:das|es))\b[^?\n]{0,120}\?",
        0.8,
    ),
    (r"\bpreis(?:e|liste)?\b.{0,30}\?", 0.8),
    # French
    (
        r"\b(?:combien|quel(?:le)?s?\s+(?:est|sont|sera)|comment\s+(?:fonctionne|[çc]a)|est-ce\s+"
        r"que|pouvez-vous|avez-vous)\b[^?\n]{0,120}\?",
        0.8,
    ),
    (r"\b(?:tarif|prix)s?\b.{0,30}\?", 0.8),
    # Spanish
    (
        r"(?:¿|\b)(?:cu[áa]nto|c[óo]mo\s+funciona|qu[ée]\s+(?:precio|incluye|es)|tienen|pueden|"
        r"hay)\b[^?\n]{0,120}\?",
        0.8,
    ),
    (r"\bprecios?\b.{0,30}\?", 0.8),
)

INTERESTED = _rules(
    "interested",
    (
        r"\b(?:i'?m|i\s+am|we'?re|we\s+are|would\s+be|could\s+be|might\s+be|definitely|very|"
        r"quite|really)\s+(?:\w+\s+)?interested\b",
        0.85,
    ),
    (r"\binterested\b", 0.7),
    (r"\b(?:sounds|looks)\s+(?:good|great|interesting|promising|useful|relevant)\b", 0.8),
    (r"\b(?:tell|show)\s+me\s+more\b|\blearn\s+more\b|\bhear\s+more\b|\bknow\s+more\b", 0.8),
    (
        r"\b(?:send|share)\s+(?:me\s+|over\s+|us\s+)?(?:some\s+|more\s+)?(?:info|information|"
        r"details|deck|one[- ]pager|brochure|case\s+stud(?:y|ies)|materials?)\b",
        0.8,
    ),
    (
        r"^\s*(?:yes|yes\s+please|sure|ok(?:ay)?|absolutely|definitely|why\s+not|go\s+ahead|"
        r"i'?m\s+in|count\s+me\s+in)\s*[.!]*\s*$",
        0.75,
    ),
    (r"\b(?:keen|curious)\s+to\b|\bopen\s+to\s+(?:it|this|learning|hearing|exploring)\b", 0.8),
    (r"\blet'?s\s+(?:talk|chat|do\s+it|explore)\b", 0.75),
    (r"\bnext\s+steps?\b|\b(?:could|might|would)\s+be\s+(?:interesting|useful|relevant)\b", 0.75),
    # German
    (r"\bklingt\s+(?:gut|interessant|spannend)\b|\binteressiert\s+(?:mich|uns)\b", 0.85),
    (r"\b(?:gerne?|gern)\s+(?:mehr|weitere)\b|\bmehr\s+(?:infos?|informationen)\b", 0.85),
    (r"\b(?:ich\s+bin|wir\s+sind)\s+interessiert\b|\binteresse\s+(?:an|ist|h[äa]tte)", 0.85),
    # French
    (r"\b(?:[çc]a\s+m'int[ée]resse|int[ée]ress[ée]e?s?)\b", 0.8),
    (r"\b(?:en\s+savoir\s+plus|plus\s+d'informations|volontiers)\b", 0.8),
    # Spanish
    (r"\b(?:me|nos)\s+interesa\b|\binteresad[oa]s?\b", 0.8),
    (r"\b(?:suena\s+bien|m[áa]s\s+informaci[óo]n|cu[ée]ntame\s+m[áa]s)\b", 0.8),
)

# Precedence when several families match: compliance first (unsubscribe), then what the
# message *is* (an auto-reply), then where the conversation is sent (referral, wrong person),
# then the answer itself.
FAMILIES: tuple[tuple[LeadCategory, list[Rule]], ...] = (
    (LeadCategory.UNSUBSCRIBE, UNSUBSCRIBE),
    (LeadCategory.OUT_OF_OFFICE, OUT_OF_OFFICE),
    (LeadCategory.REFERRAL, REFERRAL),
    (LeadCategory.WRONG_PERSON, WRONG_PERSON),
    (LeadCategory.NOT_INTERESTED, NOT_INTERESTED),
    (LeadCategory.MEETING_REQUEST, MEETING_REQUEST),
    (LeadCategory.QUESTION, QUESTION),
    (LeadCategory.INTERESTED, INTERESTED),
)

# Subjects that mark an auto-reply whatever the body says.
AUTO_REPLY_SUBJECT = re.compile(
    r"^\s*(?:automatic\s+reply|auto(?:matic)?[- ]?(?:reply|response)|out\s+of\s+(?:the\s+)?"
    r"office|ooo\b|abwesenheit|automatische\s+antwort|r[ée]ponse\s+automatique|absent|"
    r"respuesta\s+autom[áa]tica|fuera\s+de\s+la\s+oficina)",
    re.IGNORECASE,
)

# A question family win below this weight yields to an interested or meeting answer.
GENERIC_QUESTION = 0.75
