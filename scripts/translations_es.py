"""Fill locale/es/LC_MESSAGES/django.po from the table below (run by `make messages`).

Keeping the Spanish here, beside the English it translates, means a new
`makemessages` run never loses it; an untranslated string fails the tests.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

PO = Path(__file__).resolve().parent.parent / "locale" / "es" / "LC_MESSAGES" / "django.po"

SPANISH = {
    "No": "No",
    "A little": "Un poco",
    "A lot": "Mucho",
    "Please answer this question.": "Por favor, responda a esta pregunta.",
    "Not at all": "Nada",
    "Partly": "En parte",
    "Fully": "Del todo",
    "Anything else you would like your therapist to know? (optional)":
        "¿Hay algo más que le gustaría que su terapeuta supiera? (opcional)",
    "Please choose a number from 0 to 10.": "Por favor, elija un número del 0 al 10.",
    "Please say whether it was talked through.": "Por favor, indique si lo hablaron.",
    "Trust and safety": "Confianza y seguridad",
    "Empathy": "Empatía",
    "Goals and tasks": "Objetivos y tareas",
    "Boundaries": "Límites",
    "Gentle challenge": "Desafío amable",
    "Respect": "Respeto",
    "I felt safe being open with my therapist.":
        "Me sentí seguro/a para hablar abiertamente con mi terapeuta.",
    "I felt heard and understood.": "Me sentí escuchado/a y comprendido/a.",
    "We worked on what matters to me, in a way that fits me.":
        "Trabajamos en lo que me importa, de una manera que me encaja.",
    "I knew what to expect; the session felt respectful and well held.":
        "Sabía qué esperar; la sesión fue respetuosa y bien llevada.",
    "I was helped to look at things in a new way.":
        "Me ayudaron a ver las cosas de una manera nueva.",
    "My identity and background were welcome.": "Mi identidad y mis orígenes fueron bienvenidos.",
    "Was there a moment today when you felt misunderstood, uncomfortable or at odds with "
    "your therapist?":
        "¿Hubo hoy algún momento en que se sintiera incomprendido/a, incómodo/a o en "
        "desacuerdo con su terapeuta?",
    "Was it talked through?": "¿Lo hablaron?",
    "Session feedback": "Opinión sobre la sesión",
    "Private: only your therapist sees your answers.":
        "Privado: solo su terapeuta ve sus respuestas.",
    "How was today's session?": "¿Cómo fue la sesión de hoy?",
    "Language": "Idioma",
    "About a minute. Choose a number from 0 (not at all) to 10 (completely) for each sentence.":
        "Un minuto más o menos. Elija un número del 0 (nada) al 10 (totalmente) para cada frase.",
    "Honest answers help most. A low score is not a complaint: it helps your therapist adjust "
    "the sessions to you, and it will not upset anyone.":
        "Las respuestas sinceras son las que más ayudan. Una puntuación baja no es una queja: "
        "ayuda a su terapeuta a adaptar las sesiones a usted, y no molestará a nadie.",
    "Some answers are missing. Please look at the questions marked below.":
        "Faltan algunas respuestas. Por favor, revise las preguntas marcadas abajo.",
    "0 = not at all": "0 = nada",
    "10 = completely": "10 = totalmente",
    "(only if you answered “a little” or “a lot”)": "(solo si respondió «un poco» o «mucho»)",
    "Send my answers": "Enviar mis respuestas",
    "Thank you": "Gracias",
    "We already have your answers for this session. Thank you.":
        "Ya tenemos sus respuestas sobre esta sesión. Gracias.",
    "Your answers have been sent to your therapist.":
        "Sus respuestas se han enviado a su terapeuta.",
    "You can close this page now.": "Ya puede cerrar esta página.",
    "This link can't be used": "Este enlace no se puede usar",
    "It may have expired, been used already, or been replaced by a newer link.":
        "Puede que haya caducado, que ya se haya usado o que lo haya sustituido un enlace más "
        "reciente.",
    "If you would like to give feedback on a session, please ask your therapist for a new link.":
        "Si quiere dar su opinión sobre una sesión, pida a su terapeuta un enlace nuevo.",
    "Hello,": "Hola:",
    "Skip to content": "Ir al contenido",
    "Your therapist would value a minute of feedback on your recent session. It is private, "
    "takes about a minute, and honest answers help the most.":
        "A su terapeuta le gustaría conocer su opinión sobre su última sesión. Es privado, "
        "lleva un minuto y las respuestas sinceras son las que más ayudan.",
    "The link works once and until %(date)s. If it has expired, ask your therapist for a new one.":
        "El enlace funciona una sola vez y hasta el %(date)s. Si ha caducado, pida uno nuevo a "
        "su terapeuta.",
    "If this message was not meant for you, please ignore it.":
        "Si este mensaje no era para usted, ignórelo.",
    "A minute of feedback on your session": "Un minuto para opinar sobre su sesión",
    # Signals and concerns, in the clinician's words (measures/evidence.py, measures/story.py).
    'zero':
        'cero',
    'one':
        'una',
    'two':
        'dos',
    'three':
        'tres',
    'four':
        'cuatro',
    'five':
        'cinco',
    'six':
        'seis',
    'seven':
        'siete',
    'eight':
        'ocho',
    'nine':
        'nueve',
    'a little':
        'un poco',
    'a lot':
        'mucho',
    'none':
        'ninguna',
    'not at all':
        'nada',
    'partly':
        'en parte',
    'fully':
        'del todo',
    'not answered':
        'sin respuesta',
    'cancelled':
        'cancelada',
    'no-show':
        'no se presentó',
    'attended':
        'asistió',
    'Signal':
        'Señal',
    'Alliance %(score)s, at or below the cut-off of %(cutoff)s':
        'Alianza %(score)s, igual o por debajo del punto de corte de %(cutoff)s',
    'Alliance %(score)s, below the cut-off of %(cutoff)s':
        'Alianza %(score)s, por debajo del punto de corte de %(cutoff)s',
    "Alliance %(score)s, %(drop)s below this client's usual %(usual)s (threshold %(threshold)s)":
        'Alianza %(score)s, %(drop)s por debajo del nivel habitual de este cliente, %(usual)s '
        '(umbral %(threshold)s)',
    '%(dimension)s fell from %(from)s to %(to)s':
        '%(dimension)s bajó de %(from)s a %(to)s',
    '%(falls)s since session %(session)s':
        '%(falls)s desde la sesión %(session)s',
    'Alliance fell %(count)s sessions running: %(scores)s (%(sessions)s)':
        'La alianza bajó %(count)s sesiones seguidas: %(scores)s (%(sessions)s)',
    'The client reported a rupture (%(size)s); talked through: %(talked)s':
        'El cliente señaló una ruptura (%(size)s); se habló: %(talked)s',
    'the therapist noticed it too (%(size)s; talked through: %(talked)s)':
        'el terapeuta también la notó (%(size)s; se habló: %(talked)s)',
    'The therapist noticed a rupture (%(size)s; talked through: %(talked)s) that the client did '
    'not report':
        'El terapeuta notó una ruptura (%(size)s; se habló: %(talked)s) que el cliente no señaló',
    'The therapist noticed a rupture (%(size)s; talked through: %(talked)s)':
        'El terapeuta notó una ruptura (%(size)s; se habló: %(talked)s)',
    'The therapist rated the session %(therapist)s, the client %(client)s: %(difference)s higher':
        'El terapeuta valoró la sesión con %(therapist)s, el cliente con %(client)s: '
        '%(difference)s más',
    '%(count)s missed sessions in a row (%(sessions)s: %(attendance)s)':
        '%(count)s sesiones perdidas seguidas (%(sessions)s: %(attendance)s)',
    'No client rating for the last %(count)s attended sessions (%(sessions)s)':
        'Sin valoración del cliente en las últimas %(count)s sesiones a las que asistió '
        '(%(sessions)s)',
    'at or below':
        'igual o por debajo de',
    'below':
        'por debajo de',
    "Client's score":
        'Puntuación del cliente',
    'Cut-off':
        'Punto de corte',
    "Client's usual level":
        'Nivel habitual del cliente',
    'Fall':
        'Caída',
    'Threshold':
        'Umbral',
    'Threshold from':
        'Origen del umbral',
    '%(usual)s (the mean of %(count)s earlier ratings)':
        '%(usual)s (la media de %(count)s valoraciones anteriores)',
    '%(cutoff)s (a score equal to it counts as under)':
        '%(cutoff)s (una puntuación igual cuenta como por debajo)',
    '%(dimension)s fell from %(from)s to %(to)s and %(other)s from %(other_from)s '
    'to %(other_to)s at %(session)s':
        '%(dimension)s bajó de %(from)s a %(to)s y %(other)s de %(other_from)s a %(other_to)s en '
        '%(session)s',
    "the larger of the reliable change (%(change)s) and twice the spread of this client's "
    "earlier scores (%(spread)s)":
        'el mayor entre el cambio fiable (%(change)s) y el doble de la dispersión de las '
        'puntuaciones anteriores de este cliente (%(spread)s)',
    'Compared with':
        'Comparado con',
    'session %(number)s':
        'sesión %(number)s',
    'Scores':
        'Puntuaciones',
    'Sessions':
        'Sesiones',
    'Total fall':
        'Caída total',
    "Client's usual level before the slide":
        'Nivel habitual del cliente antes del descenso',
    'Client':
        'Cliente',
    'Therapist':
        'Terapeuta',
    'no rupture reported':
        'no señaló ninguna ruptura',
    'rupture: %(size)s; talked through: %(talked)s':
        'ruptura: %(size)s; se habló: %(talked)s',
    "Therapist's score":
        'Puntuación del terapeuta',
    'Therapist higher by':
        'El terapeuta por encima en',
    'Attendance':
        'Asistencia',
    'Client rating':
        'Valoración del cliente',
    'none, though each session was attended':
        'ninguna, aunque asistió a cada sesión',
    'sessions %(first)s and %(second)s':
        'sesiones %(first)s y %(second)s',
    'sessions %(first)s–%(last)s':
        'sesiones %(first)s–%(last)s',
    'sessions %(list)s':
        'sesiones %(list)s',
    'No signals remain in this concern.':
        'No quedan señales en esta preocupación.',
    'Signals at %(sessions)s':
        'Señales en %(sessions)s',
    'Alliance fell from %(from)s to %(to)s at %(session)s':
        'La alianza bajó de %(from)s a %(to)s en %(session)s',
    'Alliance slid from %(from)s to %(to)s over %(sessions)s':
        'La alianza descendió de %(from)s a %(to)s a lo largo de %(sessions)s',
    ', then rose to %(score)s at %(session)s':
        ' y luego subió a %(score)s en %(session)s',
    'a reliable drop at %(sessions)s':
        'una caída fiable en %(sessions)s',
    'reliable drops at %(sessions)s':
        'caídas fiables en %(sessions)s',
    '%(dimension)s fell from %(from)s to %(to)s at %(session)s':
        '%(dimension)s bajó de %(from)s a %(to)s en %(session)s',
    'the client reported a rupture at %(sessions)s that was not fully talked through':
        'el cliente señaló una ruptura en %(sessions)s que no se habló del todo',
    'you noticed a rupture at %(sessions)s that the client did not report':
        'usted notó una ruptura en %(sessions)s que el cliente no señaló',
    'the therapist noticed a rupture at %(sessions)s that the client did not report':
        'el terapeuta notó una ruptura en %(sessions)s que el cliente no señaló',
    'you rated %(sessions)s higher than the client did':
        'usted valoró %(sessions)s más alto que el cliente',
    'the therapist rated %(sessions)s higher than the client did':
        'el terapeuta valoró %(sessions)s más alto que el cliente',
    'alliance fell %(count)s sessions running (%(scores)s)':
        'la alianza bajó %(count)s sesiones seguidas (%(scores)s)',
    '%(count)s missed sessions in a row (%(sessions)s)':
        '%(count)s sesiones perdidas seguidas (%(sessions)s)',
    'no client rating for %(count)s attended sessions in a row (%(sessions)s)':
        'sin valoración del cliente en %(count)s sesiones seguidas a las que asistió '
        '(%(sessions)s)',
    'under the cut-off at %(sessions)s':
        'por debajo del punto de corte en %(sessions)s',
}  # fmt: skip

ENTRY = re.compile(r'(msgid ((?:"(?:[^"\\]|\\.)*"\n)+))msgstr ((?:"(?:[^"\\]|\\.)*"\n)+)')


def _text(quoted_lines: str) -> str:
    return "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', quoted_lines)).replace('\\"', '"')


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '\\"') + '"\n'


def fill(po: str) -> tuple[str, list[str]]:
    missing: list[str] = []

    def replace(match: re.Match[str]) -> str:
        english = _text(match.group(2))
        if english == "":
            return match.group(0)  # the header
        if english not in SPANISH:
            missing.append(english)
            return match.group(0)
        return f"{match.group(1)}msgstr {_quoted(SPANISH[english])}"

    filled = ENTRY.sub(replace, po)
    filled = filled.replace('"Language: \\n"', '"Language: es\\n"')
    # Every translation comes from the table above, so makemessages' guesses ("fuzzy", with
    # the earlier msgid it resembled) are dropped: a fuzzy entry would not be compiled.
    filled = re.sub(r"^#, fuzzy\n|^#\| .*\n", "", filled, flags=re.MULTILINE)
    filled = re.sub(r"^#, fuzzy, ", "#, ", filled, flags=re.MULTILINE)
    return filled, missing


if __name__ == "__main__":
    text, untranslated = fill(PO.read_text())
    PO.write_text(text)
    if untranslated:
        print("Untranslated:", *untranslated, sep="\n  ")
        sys.exit(1)
