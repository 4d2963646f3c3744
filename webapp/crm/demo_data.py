"""Deterministic generator of realistic, varied FAKE agency data for demos and load tests.

Everything here is invented and generated locally with the standard library only: no network,
no third-party packages, no database.  The generator returns plain dataclasses holding
plaintext values; the caller encrypts and stores them.

Safety properties of the fake identifiers:

* SSNs use area numbers 900-999, which the SSA never issues; they are unique per generator
  (a bijection of the client index) for the first 98,990,100 clients.
* Medicare IDs follow the CMS MBI position rules (so validators accept them) but are random.
* Phone numbers use real area codes with the fictional 555 exchange (providers: 555-01xx).
* E-mail addresses only use the reserved ``example.com`` / ``example.org`` domains.

Speed: all lookup tables (names, addresses, plans, providers, medications, Decimal amounts,
time slots...) are built once, at import or in ``DemoAgencyGenerator.__init__``; ``client()``
only picks from them and concatenates, so one client costs a few tens of microseconds.

``DemoAgencyGenerator.client(index)`` depends only on ``(seed, today, index)``, not on the call
order, so any slice of a large data set can be regenerated independently.  One generator
instance is not thread-safe (it reuses a single ``random.Random``); use one per thread.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

__all__ = [
    "AGENCY_OFFICE",
    "DemoAgencyGenerator",
    "DemoAppointment",
    "DemoClaim",
    "DemoClient",
    "DemoCommunication",
    "DemoCondition",
    "DemoMedication",
    "DemoNote",
    "DemoPlan",
    "DemoPremium",
    "DemoProvider",
    "DemoStaffMember",
    "demo_assistant_links",
    "demo_staff",
]

AGENCY_OFFICE = "Agency office, 12 Harbor St"


# --------------------------------------------------------------------------------------------
# Data classes
#
# Classes whose instances come from pre-built pools and are SHARED between clients
# (medication, condition, provider, premium, note, communication) are frozen, so that no
# caller can change one client's data through another.  Classes built fresh for every client
# (plan, claim, appointment, client) are plain slotted dataclasses: a frozen dataclass'
# __init__ goes through object.__setattr__ per field, which alone cost ~10 us per client.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DemoMedication:
    name: str  # "Metformin"
    dosage: str  # "500 mg"
    frequency: str  # "twice daily"


@dataclass(frozen=True, slots=True)
class DemoCondition:
    name: str
    noted_on: date | None


@dataclass(frozen=True, slots=True)
class DemoProvider:
    name: str  # "Dr. Ana Ruiz"
    specialty: str  # "Cardiology"
    phone: str  # "+1 813 555 0142"


@dataclass(slots=True)
class DemoPlan:
    carrier: str
    plan_name: str
    plan_type: str
    member_id: str
    effective_date: date


@dataclass(slots=True)
class DemoClaim:
    claim_number: str
    service_date: date
    description: str
    amount: Decimal
    status: str  # "paid" | "pending" | "denied"


@dataclass(frozen=True, slots=True)
class DemoPremium:
    premium_monthly: Decimal
    payment_method: str
    billing_day: int


@dataclass(slots=True)
class DemoAppointment:
    starts_at: datetime  # naive local time
    duration_minutes: int
    place: str
    purpose: str


@dataclass(frozen=True, slots=True)
class DemoNote:
    body: str


@dataclass(frozen=True, slots=True)
class DemoCommunication:
    channel: str  # "call" | "text" | "email"
    direction: str  # "inbound" | "outbound"
    summary: str
    occurred_at: datetime  # naive local time


@dataclass(slots=True)
class DemoClient:
    first_name: str
    last_name: str
    date_of_birth: date
    ssn: str
    medicare_id: str
    street: str
    city: str
    state: str
    zip: str
    phone: str
    email: str
    plan: DemoPlan
    premium: DemoPremium
    conditions: list[DemoCondition]
    medications: list[DemoMedication]
    providers: list[DemoProvider]
    claims: list[DemoClaim]
    notes: list[DemoNote]
    communications: list[DemoCommunication]
    appointments: list[DemoAppointment]


@dataclass(frozen=True, slots=True)
class DemoStaffMember:
    email: str
    display_name: str
    role: str  # "agent" | "assistant" | "admin" | "compliance"


# --------------------------------------------------------------------------------------------
# Staff
# --------------------------------------------------------------------------------------------

_STAFF: tuple[DemoStaffMember, ...] = (
    DemoStaffMember("admin@example.com", "Dana Whitaker", "admin"),
    DemoStaffMember("compliance@example.com", "Priya Raman", "compliance"),
    DemoStaffMember("agent1@example.com", "Marcus Bell", "agent"),
    DemoStaffMember("agent2@example.com", "Lucía Fernández", "agent"),
    DemoStaffMember("agent3@example.com", "Tom Nguyen", "agent"),
    DemoStaffMember("assistant1@example.com", "Keisha Brooks", "assistant"),
    DemoStaffMember("assistant2@example.com", "Ben Okafor", "assistant"),
)

_ASSISTANT_LINKS: tuple[tuple[str, str], ...] = (
    ("assistant1@example.com", "agent1@example.com"),
    ("assistant1@example.com", "agent2@example.com"),
    ("assistant2@example.com", "agent2@example.com"),
    ("assistant2@example.com", "agent3@example.com"),
)


def demo_staff() -> list[DemoStaffMember]:
    """A small agency: 1 admin, 1 compliance officer, 3 agents, 2 assistants."""
    return list(_STAFF)


def demo_assistant_links() -> list[tuple[str, str]]:
    """Which assistant supports which agents, as (assistant email, agent email) pairs."""
    return list(_ASSISTANT_LINKS)


# --------------------------------------------------------------------------------------------
# Static pools (hand-written, all invented combinations)
# --------------------------------------------------------------------------------------------


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


# (weight, first names, last names) per naming background; most clients get a first name from
# their own background, some from anywhere (mixed families, anglicised names...).
_BACKGROUNDS: tuple[tuple[int, list[str], list[str]], ...] = (
    (
        34,
        _split("""
            Dorothy, Barbara, Linda, Patricia, Carol, Sandra, Nancy, Sharon, Judith, Susan,
            Betty, Margaret, Joan, Shirley, Donna, Janet, Diane, Carolyn, Frances, Peggy,
            Beverly, Marilyn, Kathleen, Renée, Zoë, Robert, James, John, William, Richard,
            Charles, Donald, Thomas, Ronald, Gary, Larry, Kenneth, Dennis, Jerry, Wayne,
            Harold, Walter, Raymond, Eugene, Roger, Bruce, Douglas, Glenn, Dale, Norma
        """),
        _split("""
            Smith, Johnson, Williams, Brown, Jones, Miller, Davis, Wilson, Anderson, Taylor,
            Thomas, Moore, Martin, Thompson, White, Harris, Clark, Lewis, Robinson, Walker,
            Young, Allen, King, Wright, Scott, Hill, Green, Adams, Baker, Nelson, Carter,
            Mitchell, Roberts, Turner, Phillips, Campbell, Parker, Evans, Edwards, Collins,
            Stewart, Morris, Cook, Rogers, Morgan, Cooper, Peterson, Reed, Bailey, Bell,
            Howard, Ward, Cox, Richardson, Wood, Watson, Bennett, Gray, Hughes, Price,
            Sanders, Myers, Long, Ross, Foster, Powell, Perry, Russell, Fisher, Hayes,
            Graham, Wallace, Hamilton, McDonald, MacKenzie, St. Clair
        """),
    ),
    (
        12,
        _split("""
            Willie, Earl, Otis, Curtis, Leroy, Clarence, Vernon, Luther, Cornelius, Alfred,
            Bernice, Loretta, Mattie, Ethel, Gladys, Odessa, Hattie, Lucille, Marva, Alfreda
        """),
        _split("""
            Washington, Jefferson, Jackson, Banks, Freeman, Gaines, Mosley, Coleman, Bryant,
            Holloway, Dorsey, Booker, Hairston, Whitfield, Battle, Brooks, Jenkins, Simmons
        """),
    ),
    (
        18,
        _split("""
            José, María, Jesús, Guadalupe, Ramón, Inés, Héctor, Rosa, Carmen, Luz, Raúl,
            Ángel, Sofía, Lucía, Andrés, Teresa, Rubén, Gloria, Julio, Dolores, Efraín,
            Marisol, Óscar, Consuelo
        """),
        _split("""
            García, Rodríguez, Martínez, Hernández, López, González, Pérez, Sánchez, Ramírez,
            Torres, Flores, Rivera, Gómez, Díaz, Reyes, Cruz, Morales, Ortiz, Gutiérrez,
            Chávez, Ramos, Ruiz, Vargas, Castillo, Jiménez, Medina, Aguilar, Herrera, Núñez,
            Peña, García-López, De La Cruz, Muñoz, Ibáñez, Fuentes, Delgado, Santiago, Ortega
        """),
    ),
    (
        4,
        _split("Lan, Minh, Thanh, Hùng, Phương, Tuấn, Hoa, Dũng, Mai, Quang"),
        _split("Nguyễn, Trần, Lê, Phạm, Hoàng, Huỳnh, Võ, Đặng, Bùi, Đỗ"),
    ),
    (
        4,
        _split("Wei, Mei-Ling, Jian, Hong, Ying, Li, Shu-Fen, Guo"),
        _split("Chen, Wang, Li, Zhang, Liu, Huang, Wong, Lin, Chan, Zhou"),
    ),
    (
        2,
        _split("Soon-ja, Young-ho, Jung-hee, Sang-woo, Mi-kyung"),
        _split("Kim, Park, Choi, Jung, Kang, Cho, Yoon"),
    ),
    (
        3,
        _split("Rosario, Corazon, Leonila, Rogelio, Danilo, Perla"),
        _split("Santos, Bautista, Dela Cruz, Villanueva, Aquino, Manalo, Pascual, Soriano"),
    ),
    (
        3,
        _split("Rajesh, Sunita, Lakshmi, Venkatesh, Kamala, Harpreet, Gurdeep, Anil, Pushpa"),
        _split("Patel, Shah, Sharma, Singh, Gupta, Reddy, Iyer, Desai, Kapoor"),
    ),
    (
        14,
        _split("""
            Jürgen, Günter, Björn, Søren, Ingrid, Agnès, Hélène, François, Gérard, Zoltán,
            Stanisław, Giuseppe, Francesca, Salvatore, Concetta, Patrick, Bridget, Seamus,
            Siobhan, Irving, Sylvia, Esther, Myron, Ruth, Miriam, Sol, Dagmar, Halina
        """),
        _split("""
            Müller, Schröder, Weiß, Becker, Schmidt, Hoffmann, Krüger, Jørgensen, Lindqvist,
            Åberg, Dubois, Lefèvre, Bélanger, Côté, Gagnon, Kowalski, Nowak, Wiśniewski,
            Łukasiewicz, Russo, Esposito, Romano, Bianchi, DeLuca, Ricci, O'Brien, O'Connor,
            O'Neill, Gallagher, Fitzgerald, Byrne, Rosenberg, Goldstein, Katz, Friedman,
            Cohen, Levy, Novák, Horváth, Kovács, Papadopoulos, Ivanov
        """),
    ),
    (
        2,
        _split("Fatima, Mahmoud, Youssef, Nadia, Samir, Leila"),
        _split("Haddad, Khoury, Nasser, Saleh, Mansour, El-Amin"),
    ),
    (
        2,
        _split("Marie-Claude, Fritz, Ginette, Yves, Rosemène"),
        _split("Jean-Baptiste, Toussaint, Pierre-Louis, Desrosiers, Étienne"),
    ),
    (
        1,
        _split("Kalani, Leilani, Keoni, Malia"),
        _split("Kahananui, Akana, Kealoha, Kamaka"),
    ),
)

ALL_FIRST_NAMES: tuple[str, ...] = tuple(
    dict.fromkeys(name for _, firsts, _ in _BACKGROUNDS for name in firsts)
)
ALL_LAST_NAMES: tuple[str, ...] = tuple(
    dict.fromkeys(name for _, _, lasts in _BACKGROUNDS for name in lasts)
)

# Letters that NFKD does not decompose into ASCII + combining marks.
_ASCII_FOLD = str.maketrans({
    "ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "đ": "d", "Đ": "D", "ß": "ss", "æ": "ae",
    "Æ": "AE", "œ": "oe", "Œ": "OE",
})


def _ascii_slug(name: str) -> str:
    """'García-López' -> 'garcia-lopez', "O'Brien" -> 'obrien', 'Đặng' -> 'dang'."""
    folded = unicodedata.normalize("NFKD", name.translate(_ASCII_FOLD))
    out = []
    for ch in folded.lower():
        if "a" <= ch <= "z" or ch == "-":
            out.append(ch)
    return "".join(out).strip("-") or "client"


_SLUG: dict[str, str] = {n: _ascii_slug(n) for n in ALL_FIRST_NAMES + ALL_LAST_NAMES}

# state -> (weight, [(city, zip3 prefix, area code), ...]); real cities with their real ZIP
# prefix and area code, so the zip is plausible for the state.
_GEOGRAPHY: dict[str, tuple[int, list[tuple[str, str, str]]]] = {
    "FL": (30, [
        ("Miami", "331", "305"), ("Tampa", "336", "813"), ("Orlando", "328", "407"),
        ("Jacksonville", "322", "904"), ("St. Petersburg", "337", "727"),
        ("Sarasota", "342", "941"), ("Fort Lauderdale", "333", "954"),
        ("Gainesville", "326", "352"), ("The Villages", "321", "352"),
    ]),
    "AZ": (9, [
        ("Phoenix", "850", "602"), ("Tucson", "857", "520"), ("Mesa", "852", "480"),
        ("Sun City", "853", "623"), ("Flagstaff", "860", "928"),
    ]),
    "TX": (10, [
        ("Houston", "770", "713"), ("San Antonio", "782", "210"), ("Dallas", "752", "214"),
        ("Austin", "787", "512"), ("El Paso", "799", "915"), ("McAllen", "785", "956"),
    ]),
    "CA": (8, [
        ("Los Angeles", "900", "213"), ("San Diego", "921", "619"), ("San José", "951", "408"),
        ("Sacramento", "958", "916"), ("Fresno", "937", "559"), ("Oakland", "946", "510"),
    ]),
    "NY": (6, [
        ("Brooklyn", "112", "718"), ("Buffalo", "142", "716"), ("Rochester", "146", "585"),
        ("Albany", "122", "518"), ("Yonkers", "107", "914"),
    ]),
    "PA": (5, [
        ("Philadelphia", "191", "215"), ("Pittsburgh", "152", "412"),
        ("Allentown", "181", "610"), ("Scranton", "185", "570"),
    ]),
    "OH": (5, [
        ("Columbus", "432", "614"), ("Cleveland", "441", "216"), ("Cincinnati", "452", "513"),
        ("Toledo", "436", "419"), ("Dayton", "454", "937"),
    ]),
    "MA": (4, [
        ("Boston", "021", "617"), ("Worcester", "016", "508"), ("Springfield", "011", "413"),
        ("Lowell", "018", "978"),
    ]),
    "NJ": (4, [
        ("Newark", "071", "973"), ("Jersey City", "073", "201"), ("Trenton", "086", "609"),
        ("Paterson", "075", "973"),
    ]),
    "GA": (4, [("Atlanta", "303", "404"), ("Savannah", "314", "912"), ("Augusta", "309", "706")]),
    "NC": (4, [
        ("Charlotte", "282", "704"), ("Raleigh", "276", "919"), ("Asheville", "288", "828"),
    ]),
    "MI": (3, [
        ("Detroit", "482", "313"), ("Grand Rapids", "495", "616"), ("Lansing", "489", "517"),
    ]),
    "IL": (3, [("Chicago", "606", "312"), ("Springfield", "627", "217"), ("Peoria", "616", "309")]),
    "WA": (2, [("Seattle", "981", "206"), ("Spokane", "992", "509"), ("Tacoma", "984", "253")]),
    "MN": (2, [
        ("Minneapolis", "554", "612"), ("Saint Paul", "551", "651"), ("Duluth", "558", "218"),
    ]),
    "NM": (2, [
        ("Albuquerque", "871", "505"), ("Santa Fe", "875", "505"), ("Las Cruces", "880", "575"),
    ]),
    "HI": (1, [("Honolulu", "968", "808"), ("Hilo", "967", "808")]),
}

_STREET_NAMES = _split("""
    Oak, Maple, Pine, Cedar, Elm, Willow, Magnolia, Palmetto, Cypress, Birch, Hickory,
    Sycamore, Juniper, Orchard, Meadow, Lakeview, Riverside, Harbor, Bayshore, Seaside,
    Sunset, Sunrise, Highland, Park, Washington, Lincoln, Jefferson, Franklin, Madison,
    Main, Church, Mill, Spring, Hillcrest, Fairview, Ridge, Valley, Prospect, Chestnut,
    Walnut, Dogwood, Laurel, Heron, Pelican, Coral, Mesa, Saguaro, Camino Real, Bonita,
    Santa Rosa, Vista, Lighthouse, Anchor, Mariner, Colonial, Heritage, Liberty, Canterbury
""")
_STREET_SUFFIXES = _split("St, Ave, Rd, Dr, Ln, Ct, Blvd, Way, Pl, Ter, Cir, Trl")
_UNITS = _split("Apt 1A, Apt 2B, Apt 3C, Apt 4D, Apt 5, Apt 12, Apt 204, Unit 7, Unit 15, Unit 310")

_PHONE_FORMATS = (
    "({a}) 555-{n}", "({a}) 555-{n}", "({a}) 555-{n}", "{a}-555-{n}", "{a}-555-{n}",
    "{a}.555.{n}", "+1 {a} 555 {n}", "1-{a}-555-{n}", "{a} 555 {n}", "{a}555{n}",
)


# MBI alphabet: letters exclude S, L, O, I, B, Z.
_MBI_LETTERS = "ACDEFGHJKMNPQRTUVWXY"
_MBI_DIGITS = "0123456789"
_MBI_ALNUM = _MBI_DIGITS + _MBI_LETTERS
_MBI_P1_3 = tuple(a + b + c for a in "123456789" for b in _MBI_LETTERS for c in _MBI_ALNUM)
_MBI_P4_6 = tuple(a + b + c for a in _MBI_DIGITS for b in _MBI_LETTERS for c in _MBI_ALNUM)
_MBI_P7_9 = tuple(a + b + c for a in _MBI_DIGITS for b in _MBI_LETTERS for c in _MBI_LETTERS)

# SSN: area 900-999 (never issued by the SSA), group 01-99, serial 0001-9999.
_SSN_PREFIXES = tuple(f"{a}-{g:02d}-" for a in range(900, 1000) for g in range(1, 100))
_SSN_SERIALS = tuple(f"{s:04d}" for s in range(1, 10000))
_SSN_SPACE = len(_SSN_PREFIXES) * len(_SSN_SERIALS)  # 98,990,100
_SSN_MULTIPLIER = 2_654_435_761  # a prime, hence coprime with _SSN_SPACE
_FOUR_DIGITS = tuple(f"{s:04d}" for s in range(10000))
_TWO_DIGITS = tuple(f"{s:02d}" for s in range(100))

# Plan types with their relative frequency in the book of business.
_PLAN_TYPES: dict[str, int] = {
    "Medicare Advantage HMO": 30,
    "Medicare Advantage PPO": 18,
    "Part D PDP": 16,
    "Medigap Plan G": 16,
    "Medigap Plan N": 9,
    "Dual Special Needs (D-SNP)": 11,
}

# carrier -> (member id prefix, {plan type: plan names})
_CARRIERS: dict[str, tuple[str, dict[str, list[str]]]] = {
    "Harborview Health": ("HVH", {
        "Medicare Advantage HMO": ["Harborview Secure Advantage HMO", "Harborview Value HMO"],
        "Medicare Advantage PPO": ["Harborview Choice PPO"],
        "Part D PDP": ["Harborview Rx Saver PDP", "Harborview Rx Plus PDP"],
        "Medigap Plan G": ["Harborview Medicare Supplement Plan G"],
        "Dual Special Needs (D-SNP)": ["Harborview Dual Complete (HMO D-SNP)"],
    }),
    "Bluewater Health Plans": ("BWH", {
        "Medicare Advantage HMO": ["Bluewater Senior Advantage HMO", "Bluewater Giveback HMO"],
        "Medicare Advantage PPO": ["Bluewater Senior Advantage PPO"],
        "Medigap Plan N": ["Bluewater Supplement Plan N"],
        "Dual Special Needs (D-SNP)": ["Bluewater Dual Advantage (HMO D-SNP)"],
    }),
    "Lighthouse Mutual": ("LHM", {
        "Medigap Plan G": ["Lighthouse Medigap Plan G", "Lighthouse High-Deductible Plan G"],
        "Medigap Plan N": ["Lighthouse Medigap Plan N"],
        "Part D PDP": ["Lighthouse Essential Rx PDP"],
    }),
    "Keystone Senior Care": ("KSC", {
        "Medicare Advantage HMO": ["Keystone Community Care HMO"],
        "Medicare Advantage PPO": ["Keystone Freedom PPO", "Keystone Travel PPO"],
        "Dual Special Needs (D-SNP)": ["Keystone Medicaid Partner (PPO D-SNP)"],
    }),
    "Tidewater Benefit Co.": ("TWB", {
        "Part D PDP": ["Tidewater Basic Rx PDP", "Tidewater Premier Rx PDP"],
        "Medigap Plan G": ["Tidewater Supplement G"],
        "Medigap Plan N": ["Tidewater Supplement N"],
    }),
    "Summit Ridge Insurance": ("SRI", {
        "Medicare Advantage HMO": ["Summit Ridge Essentials HMO"],
        "Medicare Advantage PPO": ["Summit Ridge Open Access PPO"],
        "Part D PDP": ["Summit Ridge Value Script PDP"],
    }),
    "Evergreen Senior Health": ("EVS", {
        "Medicare Advantage HMO": ["Evergreen Healthy Living HMO"],
        "Dual Special Needs (D-SNP)": ["Evergreen Full Dual (HMO D-SNP)"],
        "Medigap Plan G": ["Evergreen Medigap G"],
    }),
    "Cardinal Life & Health": ("CLH", {
        "Medigap Plan G": ["Cardinal Plan G Select"],
        "Medigap Plan N": ["Cardinal Plan N Select"],
        "Medicare Advantage PPO": ["Cardinal Prestige PPO"],
    }),
}

# plan type -> list of (min cents, max cents, weight) premium bands.
_PREMIUM_BANDS: dict[str, list[tuple[int, int, int]]] = {
    "Medicare Advantage HMO": [(0, 0, 65), (900, 5900, 35)],
    "Medicare Advantage PPO": [(0, 0, 35), (1900, 12900, 65)],
    "Part D PDP": [(50, 2500, 45), (2500, 9500, 55)],
    "Medigap Plan G": [(9800, 32000, 1)],
    "Medigap Plan N": [(7200, 24000, 1)],
    "Dual Special Needs (D-SNP)": [(0, 0, 1)],
}
_PAYMENT_METHODS_MEDIGAP = (
    "Bank draft (EFT)", "Bank draft (EFT)", "Bank draft (EFT)", "Credit card", "Credit card",
    "Paper coupon book", "Monthly invoice by mail",
)
_PAYMENT_METHODS_MAPD = (
    "Social Security deduction", "Social Security deduction", "Bank draft (EFT)",
    "Bank draft (EFT)", "Credit card", "Monthly invoice by mail",
)
_NO_PREMIUM_METHOD = "None ($0 premium)"


def _m(name: str, dosages: str, frequencies: str) -> list[DemoMedication]:
    """All dosage x frequency variants of one drug (a 'medication group')."""
    return [
        DemoMedication(name, d, f)
        for d in dosages.split("|")
        for f in frequencies.split("|")
    ]


# (condition name, prevalence weight, specialist, medication groups, condition-related claims)
_CONDITIONS: tuple[tuple[str, int, str, list[list[DemoMedication]], list[str]], ...] = (
    ("Hypertension", 30, "Cardiology", [
        _m("Lisinopril", "10 mg|20 mg|40 mg", "once daily"),
        _m("Amlodipine", "2.5 mg|5 mg|10 mg", "once daily"),
        _m("Losartan", "25 mg|50 mg|100 mg", "once daily"),
        _m("Hydrochlorothiazide", "12.5 mg|25 mg", "once daily in the morning"),
    ], ["Blood pressure follow-up visit", "Basic metabolic panel"]),
    ("High cholesterol", 26, "Cardiology", [
        _m("Atorvastatin", "10 mg|20 mg|40 mg", "once daily|at bedtime"),
        _m("Rosuvastatin", "5 mg|10 mg|20 mg", "once daily"),
        _m("Simvastatin", "20 mg|40 mg", "at bedtime"),
    ], ["Lipid panel"]),
    ("Type 2 diabetes", 18, "Endocrinology", [
        _m("Metformin", "500 mg|850 mg|1000 mg", "twice daily|once daily with dinner"),
        _m("Glipizide", "5 mg|10 mg", "once daily before breakfast"),
        _m("Empagliflozin (Jardiance)", "10 mg|25 mg", "once daily"),
        _m("Insulin glargine", "10 units|20 units|30 units", "at bedtime"),
    ], ["Hemoglobin A1c test", "Diabetic eye exam", "Diabetic test strips (90-day supply)"]),
    ("Atrial fibrillation", 7, "Cardiology", [
        _m("Apixaban (Eliquis)", "2.5 mg|5 mg", "twice daily"),
        _m("Metoprolol succinate", "25 mg|50 mg", "once daily"),
        _m("Diltiazem ER", "120 mg|180 mg", "once daily"),
    ], ["Echocardiogram", "Electrocardiogram (EKG)", "Cardiology follow-up visit"]),
    ("COPD", 8, "Pulmonology", [
        _m("Tiotropium inhaler", "2 puffs", "once daily"),
        _m("Albuterol inhaler", "2 puffs", "every 4-6 hours as needed"),
        _m("Fluticasone/salmeterol inhaler", "250/50 mcg", "twice daily"),
    ], ["Pulmonary function test", "Chest X-ray, 2 views", "Home oxygen equipment rental"]),
    ("Hypothyroidism", 10, "Endocrinology", [
        _m("Levothyroxine", "25 mcg|50 mcg|75 mcg|100 mcg", "once daily in the morning"),
    ], ["Thyroid function panel (TSH)"]),
    ("Osteoarthritis", 14, "Orthopedics", [
        _m("Acetaminophen", "500 mg|650 mg", "every 6 hours as needed"),
        _m("Meloxicam", "7.5 mg|15 mg", "once daily with food"),
        _m("Diclofenac gel", "1% gel, 4 g", "up to four times daily"),
    ], ["Knee X-ray, 3 views", "Physical therapy session", "Corticosteroid joint injection"]),
    ("Osteoporosis", 7, "Rheumatology", [
        _m("Alendronate", "70 mg", "once weekly"),
        _m("Calcium with vitamin D", "600 mg/400 IU", "twice daily"),
    ], ["Bone density scan (DEXA)"]),
    ("GERD", 10, "Gastroenterology", [
        _m("Omeprazole", "20 mg|40 mg", "once daily before breakfast"),
        _m("Pantoprazole", "20 mg|40 mg", "once daily"),
        _m("Famotidine", "20 mg", "twice daily"),
    ], ["Upper endoscopy (outpatient)"]),
    ("Depression", 7, "Psychiatry", [
        _m("Sertraline", "50 mg|100 mg", "once daily"),
        _m("Escitalopram", "10 mg|20 mg", "once daily"),
        _m("Bupropion XL", "150 mg|300 mg", "once daily in the morning"),
    ], ["Behavioral health visit"]),
    ("Heart failure", 4, "Cardiology", [
        _m("Furosemide", "20 mg|40 mg", "once daily|twice daily"),
        _m("Carvedilol", "6.25 mg|12.5 mg|25 mg", "twice daily"),
        _m("Sacubitril/valsartan (Entresto)", "24/26 mg|49/51 mg", "twice daily"),
    ], ["Echocardiogram", "B-type natriuretic peptide (BNP) test"]),
    ("Chronic kidney disease, stage 3", 5, "Nephrology", [
        _m("Sodium bicarbonate", "650 mg", "twice daily"),
    ], ["Renal function panel", "Kidney ultrasound"]),
    ("Glaucoma", 5, "Ophthalmology", [
        _m("Latanoprost eye drops", "0.005%, 1 drop each eye", "at bedtime"),
        _m("Timolol eye drops", "0.5%, 1 drop each eye", "twice daily"),
    ], ["Comprehensive eye exam", "Visual field test"]),
    ("Cataracts", 4, "Ophthalmology", [], ["Cataract surgery (outpatient)", "Eye exam"]),
    ("Benign prostatic hyperplasia", 5, "Urology", [
        _m("Tamsulosin", "0.4 mg", "once daily after dinner"),
        _m("Finasteride", "5 mg", "once daily"),
    ], ["Urology consultation", "PSA blood test"]),
    ("Asthma", 4, "Pulmonology", [
        _m("Albuterol inhaler", "2 puffs", "every 4-6 hours as needed"),
        _m("Budesonide/formoterol inhaler", "160/4.5 mcg, 2 puffs", "twice daily"),
        _m("Montelukast", "10 mg", "once daily in the evening"),
    ], ["Pulmonology follow-up visit"]),
    ("Rheumatoid arthritis", 2, "Rheumatology", [
        _m("Methotrexate", "10 mg|15 mg", "once weekly"),
        _m("Folic acid", "1 mg", "once daily"),
        _m("Hydroxychloroquine", "200 mg", "twice daily"),
    ], ["Rheumatology follow-up visit", "Complete blood count (CBC)"]),
    ("Gout", 3, "Rheumatology", [
        _m("Allopurinol", "100 mg|300 mg", "once daily"),
        _m("Colchicine", "0.6 mg", "as needed for flares"),
    ], ["Uric acid test"]),
    ("Peripheral neuropathy", 4, "Neurology", [
        _m("Gabapentin", "100 mg|300 mg", "three times daily|at bedtime"),
        _m("Duloxetine", "30 mg|60 mg", "once daily"),
    ], ["Nerve conduction study", "Podiatry visit"]),
    ("Parkinson's disease", 1, "Neurology", [
        _m("Carbidopa/levodopa", "25/100 mg", "three times daily"),
    ], ["Neurology follow-up visit", "Physical therapy session"]),
    ("Mild cognitive impairment", 2, "Neurology", [
        _m("Donepezil", "5 mg|10 mg", "at bedtime"),
    ], ["Neurology follow-up visit", "Brain MRI"]),
    ("Macular degeneration", 2, "Ophthalmology", [
        _m("AREDS2 eye vitamins", "1 capsule", "twice daily"),
    ], ["Retina specialist visit", "Optical coherence tomography (OCT)"]),
)

_GENERAL_MEDS: tuple[DemoMedication, ...] = (
    *_m("Aspirin", "81 mg", "once daily"),
    *_m("Vitamin D3", "1000 IU|2000 IU", "once daily"),
    *_m("Multivitamin (senior)", "1 tablet", "once daily"),
    *_m("Fish oil", "1000 mg", "once daily"),
    *_m("Loratadine", "10 mg", "once daily as needed"),
    *_m("Melatonin", "3 mg", "at bedtime as needed"),
)

_PRIMARY_SPECIALTIES = (
    "Internal Medicine", "Internal Medicine", "Family Medicine", "Family Medicine",
    "Geriatric Medicine",
)
_OTHER_SPECIALTIES = (
    "Cardiology", "Endocrinology", "Pulmonology", "Nephrology", "Ophthalmology",
    "Rheumatology", "Orthopedics", "Gastroenterology", "Psychiatry", "Neurology", "Urology",
    "Dermatology", "Podiatry", "Audiology", "Dentistry",
)

# (description, min dollars, max dollars) for claims not tied to a specific condition.
_GENERAL_CLAIMS: tuple[tuple[str, int, int], ...] = (
    ("Primary care office visit", 85, 240),
    ("Annual wellness visit", 150, 290),
    ("Comprehensive metabolic panel", 25, 120),
    ("Flu vaccine", 30, 75),
    ("Shingles vaccine (dose 1 of 2)", 150, 230),
    ("Specialist consultation", 180, 450),
    ("Urgent care visit", 120, 350),
    ("Emergency room visit", 900, 4200),
    ("Retail pharmacy fill", 8, 180),
    ("Mail-order pharmacy fill (90-day)", 15, 420),
    ("Durable medical equipment: walker", 60, 180),
    ("Hearing exam", 60, 200),
    ("Routine dental cleaning", 90, 220),
    ("Screening mammogram", 150, 380),
    ("Colonoscopy (screening)", 900, 2800),
    ("Physical therapy session", 90, 220),
    ("Ambulance transport", 450, 1600),
)
_CONDITION_CLAIM_RANGE: dict[str, tuple[int, int]] = {
    "Cataract surgery (outpatient)": (1800, 4200),
    "Upper endoscopy (outpatient)": (1100, 3200),
    "Brain MRI": (600, 2400),
    "Echocardiogram": (450, 1800),
    "Nerve conduction study": (350, 1200),
    "Home oxygen equipment rental": (180, 450),
    "Kidney ultrasound": (250, 700),
    "Corticosteroid joint injection": (150, 480),
    "Bone density scan (DEXA)": (120, 320),
}
_DEFAULT_CONDITION_CLAIM_RANGE = (25, 320)

_NOTES = (
    "Prefers calls after 10am; hard of hearing on the left side, speak clearly.",
    "Asked about dental and vision add-ons. Send a comparison before AEP.",
    "Wants printed materials mailed, does not read email often.",
    "Very happy with current plan; no changes wanted this year.",
    "Moving closer to family in the spring. Re-check plan service area before the move.",
    "Scope of Appointment signed and on file.",
    "Interested in the Part B giveback plans; explained how the giveback works.",
    "Keeps a paper list of medications by the phone - ask to read it at each review.",
    "Prefers Spanish for phone calls; documents in English are fine.",
    "Referred by a neighbor. Thank-you card sent.",
    "Asked us to call back in November to compare Part D options.",
    "Applied for Extra Help (LIS); waiting on the SSA decision letter.",
    "Medicaid renewal due this year. Remind client two months before.",
    "Pharmacy changed to mail order; double-check the formulary tier on renewal.",
    "Prefers text reminders the day before any appointment.",
    "Retired teacher; has a retiree plan from the district to coordinate with.",
    "Still working part-time with employer coverage; revisit at retirement.",
    "Wants to keep current doctors; check the network before recommending anything.",
    "Lives alone; neighbor has a spare key if no one answers the door.",
    "Dog in the yard, ring the bell and wait by the gate.",
)
# Relatives who help with paperwork (relation, given names that fit it).
_RELATIVES = (
    ("Daughter", "Maria, Jennifer, Michelle, Lisa, Angela, Thu, Priya, Keisha, Rachel, Ana"),
    ("Son", "Michael, David, Carlos, Kevin, Brian, Minh, Raj, Andre, Daniel, Luis"),
    ("Niece", "Sarah, Yesenia, Hannah, Linh, Amira"),
    ("Nephew", "Jason, Marco, Tuan, Eric, Omar"),
    ("Granddaughter", "Emily, Sofia, Jasmine, Mia"),
    ("Grandson", "Tyler, Mateo, Ethan, Jamal"),
)

_COMMS: dict[tuple[str, str], tuple[str, ...]] = {
    ("call", "outbound"): (
        "Annual review reminder; client will call back to schedule.",
        "Welcome call after enrollment; explained ID card and how to reach member services.",
        "Left voicemail about the upcoming plan changes notice.",
        "Confirmed tomorrow's appointment time and address.",
        "Follow-up on premium payment setup; bank draft confirmed.",
        "Checked in after the plan change; client is satisfied.",
    ),
    ("call", "inbound"): (
        "Client asked why a pharmacy copay went up; explained the coverage phase.",
        "Client received a letter from the carrier and wanted help reading it.",
        "Question about the new ID card; a replacement was requested from the carrier.",
        "Client asked whether a new doctor is in network; checked and confirmed.",
        "Client wants to review options during the enrollment period.",
        "Billing question about this month's premium; resolved.",
    ),
    ("text", "outbound"): (
        "Appointment reminder sent.",
        "Sent the link to the carrier's member portal.",
        "Reminder: Annual Enrollment Period starts October 15.",
        "Asked client to send a photo of the new Medicare card.",
    ),
    ("text", "inbound"): (
        "Client confirmed the appointment.",
        "Client asked to reschedule to next week.",
        "Client sent a thank-you message.",
        "Client asked for the agency's mailing address.",
    ),
    ("email", "outbound"): (
        "Sent plan comparison summary for next year.",
        "Sent Scope of Appointment form for e-signature.",
        "Sent a copy of the enrollment confirmation.",
        "Sent the Evidence of Coverage link and the summary of benefits.",
    ),
    ("email", "inbound"): (
        "Client returned the signed Scope of Appointment form.",
        "Client forwarded a letter from the carrier about a premium change.",
        "Client asked for a callback about Part D options.",
        "Client sent an updated mailing address.",
    ),
}

_PURPOSES = (
    "Annual plan review", "Annual plan review", "Annual plan review",
    "Part D formulary check", "Part D formulary check", "Enrollment paperwork",
    "Enrollment paperwork", "Medigap rate comparison", "AEP options review",
    "Scope of Appointment signature", "Turning-65 orientation", "Extra Help (LIS) application",
    "Address change and service-area check", "Provider network check",
    "Premium payment setup", "Dental and vision add-on review", "New member welcome visit",
)
_DURATIONS = (30, 30, 45, 45, 60, 60, 60, 90)


# --------------------------------------------------------------------------------------------
# Helpers used while building pools
# --------------------------------------------------------------------------------------------


def _weighted(items: list[tuple[object, int]]) -> tuple:
    """Expand (item, weight) pairs so that a uniform choice is a weighted choice."""
    return tuple(item for item, weight in items for _ in range(weight))


def _cents_pool(rng: random.Random, bands: list[tuple[int, int, int]], size: int) -> tuple:
    values: list[Decimal] = []
    total = sum(w for _, _, w in bands)
    for lo, hi, weight in bands:
        count = max(1, round(size * weight / total))
        for _ in range(count):
            cents = lo if lo == hi else rng.randrange(lo, hi + 1)
            if lo != hi and rng.random() < 0.6:  # prices like $42.00 or $42.90 are common
                cents -= cents % 10 if rng.random() < 0.5 else cents % 100
                cents = max(cents, lo)
            values.append(Decimal(cents).scaleb(-2))
    return tuple(values)


def _slots(duration: int) -> tuple[tuple[int, int], ...]:
    """Quarter-hour start times such that the appointment fits in 8:00-17:30."""
    out = []
    minute = 8 * 60
    while minute + duration <= 17 * 60 + 30:
        out.append(divmod(minute, 60))
        minute += 15
    return tuple(out)


_SLOTS_BY_DURATION = {d: _slots(d) for d in set(_DURATIONS)}


# --------------------------------------------------------------------------------------------
# Generator
# --------------------------------------------------------------------------------------------


_MEMBER_ID_LOW = 10**8
_MEMBER_ID_SPAN = 9 * 10**8


TODAY_POOL = 240  # clients who may have an appointment today: ~30 visits, ~10 per agent


class DemoAgencyGenerator:
    """Deterministic fake-client factory: ``client(i)`` depends only on (seed, today, i).

    ``__init__`` builds every lookup table once (~0.1 s); ``client()`` then only draws
    indices into those tables, so that it stays in the tens of microseconds.  Immutable
    sub-objects (medications, providers, premiums, conditions, notes, communications) are
    drawn from pre-built pools and may be shared between clients.
    """

    def __init__(self, *, seed: int = 2026, today: date) -> None:
        self.seed = seed
        self.today = today
        # Non-cryptographic randomness is intended: this is fake demo data.
        setup = random.Random(seed)  # noqa: S311
        self._rng = random.Random()  # noqa: S311
        self._seed_base = (seed & 0xFFFF_FFFF_FFFF) << 32
        # SSNs are a bijection of the index (x -> A*x + B mod the size of the SSN space, then
        # split into "area-group-" and serial, each through a seeded shuffle), so they are
        # unique for the first 98,990,100 clients and still look random.
        self._ssn_offset = setup.randrange(_SSN_SPACE)
        prefixes, serials = list(_SSN_PREFIXES), list(_SSN_SERIALS)
        setup.shuffle(prefixes)
        setup.shuffle(serials)
        self._ssn_prefixes, self._ssn_serials = tuple(prefixes), tuple(serials)
        today_ord = today.toordinal()

        # --- names: (first-name pool, last-name pool) per background, weighted ---
        self._backgrounds = _weighted([
            ((tuple(firsts), tuple(lasts)), weight) for weight, firsts, lasts in _BACKGROUNDS
        ])

        # --- geography: weighted (state, city, zip3, area code, library) ---
        places = []
        for state, (weight, cities) in _GEOGRAPHY.items():
            for city, zip3, area in cities:
                library = f"{city} Public Library, community room"
                # The state weight is shared by its cities.
                places.append(((state, city, zip3, area, library),
                               max(1, round(weight * 12 / len(cities)))))
        self._places = _weighted(places)
        self._streets = tuple(
            f" {name} {suffix}" for name in _STREET_NAMES for suffix in _STREET_SUFFIXES
        )
        self._house_numbers = tuple(
            str(n) for n in (*range(1, 400), *range(100, 9999, 7), *range(10000, 19999, 37))
        )
        self._dobs = tuple(
            date.fromordinal(o)
            for o in range(date(1935, 1, 1).toordinal(), date(1961, 12, 31).toordinal() + 1)
        )

        # --- plans: weighted by plan type, then spread over the carriers offering it ---
        plan_entries = []
        for plan_type, weight in _PLAN_TYPES.items():
            offers = [
                (carrier, prefix, name)
                for carrier, (prefix, by_type) in _CARRIERS.items()
                for name in by_type.get(plan_type, ())
            ]
            for carrier, prefix, name in offers:
                plan_entries.append(
                    ((carrier, name, plan_type, prefix), max(1, round(weight * 12 / len(offers))))
                )
        self._plans = _weighted(plan_entries)

        # Effective dates: first of a month within the last 8 years, mostly January 1st,
        # occasionally next month (a pending new enrollment).
        firsts_of_month = []
        y, m = today.year - 8, 1
        while (y, m) <= (today.year, today.month):
            firsts_of_month.append(date(y, m, 1))
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        januaries = [d for d in firsts_of_month if d.month == 1]
        # Paired with the span of past days a claim under that plan can fall in (2..419 days ago).
        self._effective_dates = tuple(
            (d, min(420, today_ord - d.toordinal() + 1) - 2)
            for d in januaries * 12 + firsts_of_month + [date(y, m, 1)] * 2
        )

        # Premiums: a pool of ready DemoPremium objects per plan type.
        self._premiums: dict[str, tuple[DemoPremium, ...]] = {}
        for plan_type, bands in _PREMIUM_BANDS.items():
            methods = (_PAYMENT_METHODS_MEDIGAP if plan_type.startswith("Medigap")
                       else _PAYMENT_METHODS_MAPD)
            pool = []
            for amount in _cents_pool(setup, bands, 256):
                if not amount:
                    pool.append(DemoPremium(amount, _NO_PREMIUM_METHOD, 1))
                    continue
                method = setup.choice(methods)
                if method == "Social Security deduction":
                    day = 3
                else:
                    day = 1 if setup.random() < 0.5 else setup.randrange(1, 29)
                pool.append(DemoPremium(amount, method, day))
            self._premiums[plan_type] = tuple(pool)

        # --- providers per state: primary-care pool and {specialty: pool} ---
        self._primary: dict[str, tuple[DemoProvider, ...]] = {}
        self._specialists: dict[str, dict[str, tuple[DemoProvider, ...]]] = {}
        for state, (_, cities) in _GEOGRAPHY.items():
            areas = [area for _, _, area in cities]
            by_specialty = {
                sp: tuple(self._make_provider(setup, sp, areas) for _ in range(6))
                for sp in sorted({*_PRIMARY_SPECIALTIES, *_OTHER_SPECIALTIES})
            }
            self._primary[state] = tuple(
                p for sp in _PRIMARY_SPECIALTIES for p in by_specialty[sp]
            )
            self._specialists[state] = by_specialty

        # --- conditions: (name, specialist, med groups, claim entries, DemoCondition pool) ---
        conditions = []
        for name, weight, specialist, groups, claim_descs in _CONDITIONS:
            claim_entries = tuple(
                (desc, self._amount_pool(
                    setup, *_CONDITION_CLAIM_RANGE.get(desc, _DEFAULT_CONDITION_CLAIM_RANGE)))
                for desc in claim_descs
            )
            objs = tuple(
                DemoCondition(
                    name,
                    None if setup.random() < 0.25
                    else date.fromordinal(today_ord - setup.randrange(30, 5500)),
                )
                for _ in range(48)
            )
            entry = (name, specialist, tuple(tuple(g) for g in groups), claim_entries, objs)
            conditions.append((entry, weight))
        self._conditions = _weighted(conditions)
        self._general_claims = tuple(
            (desc, self._amount_pool(setup, lo, hi)) for desc, lo, hi in _GENERAL_CLAIMS
        )
        # Past service dates, indexed by "days ago", with their 2-digit year.
        self._past_days = tuple(date.fromordinal(today_ord - k) for k in range(420))
        self._past_yy = tuple(f"{d.year % 100:02d}" for d in self._past_days)

        # --- notes and communications: pools of ready objects ---
        relative_notes = [
            DemoNote(f"{relation} {given} helps with paperwork and is listed on the "
                     "authorization form.")
            for relation, names in _RELATIVES
            for given in _split(names)
        ]
        self._notes = tuple(DemoNote(body) for body in _NOTES) * 3 + tuple(relative_notes)
        comm_keys = _weighted([
            (("call", "outbound"), 30), (("call", "inbound"), 22), (("text", "outbound"), 14),
            (("text", "inbound"), 10), (("email", "outbound"), 14), (("email", "inbound"), 10),
        ])
        today_dt = datetime(today.year, today.month, today.day)
        comms = []
        for _ in range(4096):
            channel, direction = setup.choice(comm_keys)
            when = today_dt - timedelta(days=setup.randrange(1, 90)) + timedelta(
                minutes=8 * 60 + setup.randrange(0, 11 * 60))
            summary = setup.choice(_COMMS[channel, direction])
            comms.append(DemoCommunication(channel, direction, summary, when))
        comms.sort(key=_comm_time)
        self._comms = tuple(comms)

        # --- appointments: (starts_at, duration) for today and for the coming 3 weeks ---
        def day_slots(day: date) -> list[tuple[datetime, int]]:
            return [
                (datetime(day.year, day.month, day.day, hour, minute), duration)
                for duration in _DURATIONS
                for hour, minute in _SLOTS_BY_DURATION[duration]
            ]

        self._today_slots = tuple(day_slots(today))
        self._future_slots = tuple(
            slot
            for k in range(1, 22)
            if (today + timedelta(days=k)).weekday() != 6  # no Sunday appointments
            for slot in day_slots(today + timedelta(days=k))
        )

    @staticmethod
    def _amount_pool(rng: random.Random, lo: int, hi: int) -> tuple[Decimal, ...]:
        return tuple(Decimal(rng.randrange(lo * 100, hi * 100 + 1)).scaleb(-2) for _ in range(64))

    @staticmethod
    def _make_provider(rng: random.Random, specialty: str, areas: list[str]) -> DemoProvider:
        first = rng.choice(ALL_FIRST_NAMES)
        last = rng.choice(ALL_LAST_NAMES)
        r = rng.random()
        if specialty == "Dentistry":
            name = f"Dr. {first} {last}, DDS"
        elif specialty == "Audiology":
            name = f"{first} {last}, AuD"
        elif specialty == "Podiatry":
            name = f"Dr. {first} {last}, DPM"
        elif r < 0.6:
            name = f"Dr. {first} {last}"
        elif r < 0.8:
            name = f"{first} {last}, MD"
        elif r < 0.9:
            name = f"{first} {last}, DO"
        elif specialty in _PRIMARY_SPECIALTIES:
            name = f"{first} {last}, NP"
        else:
            name = f"{first} {last}, PA-C"
        phone = f"+1 {rng.choice(areas)} 555 01{rng.randrange(100):02d}"
        return DemoProvider(name, specialty, phone)

    # ----------------------------------------------------------------------------------------

    def clients(self, count: int, start: int = 0) -> Iterator[DemoClient]:
        """``client(start)``, ``client(start + 1)``, ... (``count`` clients)."""
        for index in range(start, start + count):
            yield self.client(index)

    def client(self, index: int) -> DemoClient:
        """The client number ``index`` (any int >= 0; same seed/today/index -> same client)."""
        rng = self._rng
        rng.seed(self._seed_base | (index & 0xFFFF_FFFF))
        rnd = rng.random
        rb = rng.getrandbits
        # Hot path: ``pool[rb(30) % len(pool)]`` costs a fifth of rng.choice(pool); the modulo
        # bias (at most len / 2**30) is irrelevant for fake data.

        # --- identity ---
        backgrounds = self._backgrounds
        firsts, lasts = backgrounds[rb(30) % len(backgrounds)]
        if rnd() < 0.8:
            first = firsts[rb(30) % len(firsts)]
        else:
            first = ALL_FIRST_NAMES[rb(30) % len(ALL_FIRST_NAMES)]
        last = lasts[rb(30) % len(lasts)]
        dobs = self._dobs
        dob = dobs[rb(30) % len(dobs)]
        x = (index * _SSN_MULTIPLIER + self._ssn_offset) % _SSN_SPACE
        ssn = self._ssn_prefixes[x // 9999] + self._ssn_serials[x % 9999]
        mbi = (_MBI_P1_3[rb(30) % len(_MBI_P1_3)] + _MBI_P4_6[rb(30) % len(_MBI_P4_6)]
               + _MBI_P7_9[rb(30) % len(_MBI_P7_9)] + _TWO_DIGITS[rb(30) % 100])

        # --- contact ---
        places = self._places
        state, city, zip3, area, library = places[rb(30) % len(places)]
        numbers, streets = self._house_numbers, self._streets
        street = numbers[rb(30) % len(numbers)] + streets[rb(30) % len(streets)]
        if rnd() < 0.18:
            street = street + ", " + _UNITS[rb(30) % len(_UNITS)]
        zip_code = zip3 + _TWO_DIGITS[rb(30) % 100]
        phone = _PHONE_FORMATS[rb(30) % len(_PHONE_FORMATS)].format(
            a=area, n=_FOUR_DIGITS[rb(30) % 10000])
        fs, ls = _SLUG[first], _SLUG[last]
        r = rnd()
        if r < 0.25:
            local = f"{fs}.{ls}{_TWO_DIGITS[dob.year % 100]}{_TWO_DIGITS[dob.day]}"
        elif r < 0.45:
            local = fs[0] + ls + str(rb(30) % 9000 + 1000)
        elif r < 0.6:
            local = f"{fs}{ls}{dob.year}{_TWO_DIGITS[dob.month]}"
        elif r < 0.8:
            local = f"{ls}.{fs}{rb(30) % 9999 + 1}"
        else:
            local = f"{fs}_{ls[0]}{_FOUR_DIGITS[rb(30) % 10000]}"
        email = local + ("@example.org" if rnd() < 0.3 else "@example.com")

        # --- plan & premium ---
        plans = self._plans
        carrier, plan_name, plan_type, prefix = plans[rb(30) % len(plans)]
        eff = self._effective_dates
        effective_date, claim_span = eff[rb(30) % len(eff)]
        plan = DemoPlan(carrier, plan_name, plan_type,
                        prefix + str(_MEMBER_ID_LOW + rb(40) % _MEMBER_ID_SPAN), effective_date)
        premiums = self._premiums[plan_type]
        premium = premiums[rb(30) % len(premiums)]

        # --- conditions (0-4, weighted by prevalence) & matching medications (0-6) ---
        r = rnd()
        n_cond = 0 if r < 0.15 else 1 if r < 0.40 else 2 if r < 0.68 else 3 if r < 0.88 else 4
        picked: list[tuple] = []
        conditions: list[DemoCondition] = []
        medications: list[DemoMedication] = []
        if n_cond:
            pool = self._conditions
            for _ in range(n_cond * 3):  # bounded retries to avoid duplicates
                cond = pool[rb(30) % len(pool)]
                if cond in picked:
                    continue
                picked.append(cond)
                objs = cond[4]
                conditions.append(objs[rb(30) % len(objs)])
                groups = cond[2]
                if groups:
                    r = rnd()
                    n_groups = len(groups)
                    if r < 0.72 or (r < 0.92 and n_groups == 1):
                        group = groups[rb(30) % n_groups]
                        medications.append(group[rb(30) % len(group)])
                    elif r < 0.92:
                        i = rb(30) % n_groups
                        j = rb(30) % (n_groups - 1)
                        j += j >= i
                        g1, g2 = groups[i], groups[j]
                        medications.append(g1[rb(30) % len(g1)])
                        medications.append(g2[rb(30) % len(g2)])
                if len(picked) == n_cond:
                    break
        if rnd() < 0.3:
            extra = _GENERAL_MEDS[rb(30) % len(_GENERAL_MEDS)]
            medications.append(extra)  # general meds never overlap the condition meds
        if len(medications) > 6:
            del medications[6:]

        # --- providers (1-3): primary care first, then specialists for the conditions ---
        primary = self._primary[state]
        providers = [primary[rb(30) % len(primary)]]
        r = rnd()
        n_spec = 0 if r < 0.4 else 1 if r < 0.8 else 2
        if n_spec:
            specialists = self._specialists[state]
            chosen: list[str] = []
            for cond in picked:
                if cond[1] not in chosen:
                    chosen.append(cond[1])
                    if len(chosen) == n_spec:
                        break
            while len(chosen) < n_spec:
                sp = _OTHER_SPECIALTIES[rb(30) % len(_OTHER_SPECIALTIES)]
                if sp not in chosen:
                    chosen.append(sp)
            for sp in chosen:
                docs = specialists[sp]
                providers.append(docs[rb(30) % len(docs)])

        # --- claims (0-4) under the current plan (not before its effective date), oldest first ---
        r = rnd()
        n_claims = 0 if r < 0.25 else 1 if r < 0.5 else 2 if r < 0.72 else 3 if r < 0.88 else 4
        claims: list[DemoClaim] = []
        if n_claims and claim_span > 0:
            general = self._general_claims
            past_days, past_yy = self._past_days, self._past_yy
            number_mid = "-" + str(index).zfill(7) + "-"
            days = [2 + rb(30) % claim_span]
            for _ in range(n_claims - 1):
                days.append(2 + rb(30) % claim_span)
            days.sort(reverse=True)
            for k, days_ago in enumerate(days, 1):
                entries = general
                if picked and rnd() < 0.45:
                    entries = picked[rb(30) % len(picked)][3] or general
                desc, amounts = entries[rb(30) % len(entries)]
                r = rnd()
                if days_ago < 35:
                    status = "pending" if r < 0.6 else "paid" if r < 0.93 else "denied"
                else:
                    status = "paid" if r < 0.86 else "denied" if r < 0.96 else "pending"
                claims.append(DemoClaim(
                    prefix + past_yy[days_ago] + number_mid + str(k),
                    past_days[days_ago],
                    desc,
                    amounts[rb(30) % 64],
                    status,
                ))

        # --- notes (0-2) ---
        r = rnd()
        notes: list[DemoNote] = []
        if r < 0.45:
            note_pool = self._notes
            notes.append(note_pool[rb(30) % len(note_pool)])
            if r < 0.15:
                second = note_pool[rb(30) % len(note_pool)]
                if second is not notes[0]:
                    notes.append(second)

        # --- communications (0-3), oldest first ---
        r = rnd()
        n_comm = 0 if r < 0.3 else 1 if r < 0.65 else 2 if r < 0.88 else 3
        comms: list[DemoCommunication] = []
        if n_comm:
            comm_pool = self._comms  # sorted by time: sorted indices give chronological order
            n_pool = len(comm_pool)
            comms = [comm_pool[i] for i in sorted({rb(30) % n_pool for _ in range(n_comm)})]

        # --- appointments: ~1 in 8 of the first clients today, ~1 in 3 in the coming 3 weeks ---
        # NOTE: only the first TODAY_POOL clients can be seen today: an agency's day is a few
        # dozen visits whatever the size of its book (100,000 clients must not mean 12,500
        # appointments today); the others' share goes to the coming weeks.
        appointments: list[DemoAppointment] = []
        r = rnd()
        if r < 0.45:
            if r < 0.125 and index < TODAY_POOL:
                slots = self._today_slots
                starts_at, duration = slots[rb(30) % len(slots)]
                appointments.append(self._appointment(starts_at, duration, street, city, state,
                                                      zip_code, library))
                follow_up = rnd() < 0.15
            else:
                follow_up = True
            if follow_up:
                slots = self._future_slots
                starts_at, duration = slots[rb(30) % len(slots)]
                appointments.append(self._appointment(starts_at, duration, street, city, state,
                                                      zip_code, library))

        return DemoClient(
            first, last, dob, ssn, mbi, street, city, state, zip_code, phone, email,
            plan, premium, conditions, medications, providers, claims, notes, comms,
            appointments,
        )

    def _appointment(self, starts_at: datetime, duration: int, street: str, city: str,
                     state: str, zip_code: str, library: str) -> DemoAppointment:
        rnd = self._rng.random
        rb = self._rng.getrandbits
        r = rnd()
        if r < 0.7:
            place = f"{street}, {city}, {state} {zip_code}"
        elif r < 0.9:
            place = AGENCY_OFFICE
        else:
            place = library
        return DemoAppointment(starts_at, duration, place, _PURPOSES[rb(30) % len(_PURPOSES)])


def _comm_time(comm: DemoCommunication) -> datetime:
    return comm.occurred_at
