"""What the demo nodes publish on first run: small, plausible datasets and offers.

Invented for the demo (the places are real, the figures are not), in the
shapes :mod:`protocol.records` accepts.
"""

from __future__ import annotations

from typing import Any

THEME = "http://publications.europa.eu/resource/authority/data-theme/"
FREQ = "http://publications.europa.eu/resource/authority/frequency/"
ETALAB = "https://www.etalab.gouv.fr/licence-ouverte-open-licence"
ODBL = "https://opendatacommons.org/licenses/odbl/1-0/"

# Files the demo nodes store and serve themselves (name → content).
FILES: dict[str, dict[str, bytes]] = {
    "metropole": {
        "arceaux-velo.csv": (
            "id;commune;adresse;places;latitude;longitude\n"
            "1;Brest;Place de la Liberté;12;48.3904;-4.4861\n"
            "2;Brest;Rue de Siam;8;48.3885;-4.4897\n"
            "3;Brest;Gare SNCF;24;48.3879;-4.4795\n"
            "4;Guipavas;Mairie;6;48.4352;-4.3995\n"
            "5;Plouzané;Technopôle;10;48.3604;-4.5706\n"
        ).encode(),
    },
    "syndicat": {
        "qualite-air-2026.csv": (
            "station;date;no2_ugm3;o3_ugm3;pm10_ugm3\n"
            "Rennes-Pays-Bas;2026-11-30T08:00;21;34;14\n"
            "Rennes-Pays-Bas;2026-11-30T09:00;27;31;17\n"
            "Brest-Macé;2026-11-30T08:00;12;48;9\n"
            "Lorient-Bois-du-Château;2026-11-30T08:00;9;52;11\n"
        ).encode(),
    },
    "cooperative": {
        "production-solaire-2026-11.csv": (
            "toiture;commune;kwc;production_kwh\n"
            "École Jean-Moulin;Lannion;36;1820\n"
            "Salle omnisports;Perros-Guirec;100;4950\n"
            "Ferme du Launay;Trégastel;24;1190\n"
        ).encode(),
    },
}


def records_for(slug: str, file_url: dict[str, str]) -> list[dict[str, Any]]:
    """The records of one demo node; ``file_url`` maps a file name to its URL."""
    if slug == "metropole":
        return [
            {
                "slug": "arceaux-velo",
                "title": "Arceaux de stationnement vélo",
                "description": (
                    "Emplacement et capacité des arceaux vélo installés sur "
                    "l'espace public de la métropole."
                ),
                "keywords": ["vélo", "stationnement", "mobilité"],
                "themes": [THEME + "TRAN"],
                "license": ODBL,
                "language": ["fr"],
                "accrual_periodicity": FREQ + "MONTHLY",
                "contact_name": "Mission données ouvertes",
                "contact_email": "opendata@metropole.example",
                "distributions": [
                    {
                        "title": "Arceaux (CSV)",
                        "download_url": file_url["arceaux-velo.csv"],
                        "media_type": "text/csv",
                        "format": "CSV",
                    }
                ],
            },
            {
                "slug": "horaires-bus-tram",
                "title": "Horaires théoriques bus et tramway (GTFS)",
                "description": (
                    "Horaires des 42 lignes du réseau, au format GTFS, publiés "
                    "chaque semaine."
                ),
                "keywords": ["transport", "bus", "tramway", "GTFS"],
                "themes": [THEME + "TRAN"],
                "license": ETALAB,
                "language": ["fr"],
                "accrual_periodicity": FREQ + "WEEKLY",
                "distributions": [
                    {
                        "title": "GTFS",
                        "access_url": "https://transport.example/gtfs/brest",
                        "media_type": "application/zip",
                        "format": "ZIP",
                    }
                ],
            },
            {
                "slug": "api-parkings",
                "title": "API d'occupation des parkings relais",
                "description": (
                    "Places libres en temps réel dans les 12 parkings relais, "
                    "pour les plateformes de mobilité partenaires."
                ),
                "endpoint_url": "https://api.metropole.example/parkings",
                "formats": ["JSON"],
                "keywords": ["parking", "temps réel"],
                "themes": [THEME + "TRAN"],
                "license": ETALAB,
                "offer": {
                    "permissions": [
                        {
                            "action": "read",
                            "constraints": [
                                {
                                    "left": "dateTime",
                                    "operator": "lteq",
                                    "right": "2027-12-31",
                                }
                            ],
                            "duties": [{"action": "attribute"}],
                        }
                    ],
                    "prohibitions": [{"action": "distribute"}],
                    "hours": [
                        {
                            "days": [
                                "Monday",
                                "Tuesday",
                                "Wednesday",
                                "Thursday",
                                "Friday",
                            ],
                            "opens": "06:00",
                            "closes": "22:00",
                        }
                    ],
                    "quotas": [{"limit": 10000, "period": "P1D"}],
                    "authentication": ["http-signature"],
                    "audience": "agreement",
                    "auto_accept": "members",
                },
            },
        ]
    if slug == "syndicat":
        return [
            {
                "slug": "qualite-air",
                "title": "Qualité de l'air — mesures horaires régionales",
                "description": (
                    "Concentrations horaires de NO2, O3 et PM10 mesurées par les "
                    "stations de la région."
                ),
                "keywords": ["air", "pollution", "environnement"],
                "themes": [THEME + "ENVI", THEME + "HEAL"],
                "license": ETALAB,
                "language": ["fr"],
                "accrual_periodicity": FREQ + "HOURLY",
                "distributions": [
                    {
                        "title": "Mesures de novembre (CSV)",
                        "download_url": file_url["qualite-air-2026.csv"],
                        "media_type": "text/csv",
                        "format": "CSV",
                    }
                ],
            },
            {
                "slug": "adresses-bal",
                "title": "Base adresse locale des 14 territoires",
                "description": (
                    "Adresses certifiées par les communes membres, agrégées chaque "
                    "nuit au format BAL 1.4."
                ),
                "keywords": ["adresses", "BAL", "référentiel"],
                "themes": [THEME + "REGI"],
                "license": ETALAB,
                "distributions": [
                    {
                        "title": "BAL (CSV)",
                        "access_url": "https://adresse.example/bal/syndicat",
                        "format": "CSV",
                    }
                ],
            },
            {
                "slug": "depot-donnees",
                "title": "Dépôt mutualisé de jeux de données",
                "description": (
                    "Les territoires membres déposent leurs jeux de données ; le "
                    "syndicat les valide et les republie."
                ),
                "endpoint_url": "https://api.syndicat.example/depot",
                "keywords": ["mutualisation"],
                "themes": [THEME + "GOVE"],
                "offer": {
                    "permissions": [
                        {"action": "read"},
                        {
                            "action": "modify",
                            "duties": [
                                {
                                    "action": "reciprocate",
                                    "note": "publier ses données en licence ouverte",
                                }
                            ],
                        },
                    ],
                    "quotas": [{"limit": 200, "period": "P1D"}],
                    "authentication": ["http-signature", "agreement-token"],
                    "audience": "members",
                    "auto_accept": "members",
                },
            },
        ]
    return [
        {
            "slug": "production-solaire",
            "title": "Production des toitures solaires citoyennes",
            "description": (
                "Production mensuelle des 23 installations photovoltaïques de la "
                "coopérative."
            ),
            "keywords": ["énergie", "solaire", "coopérative"],
            "themes": [THEME + "ENER"],
            "license": ODBL,
            "language": ["fr"],
            "accrual_periodicity": FREQ + "MONTHLY",
            "distributions": [
                {
                    "title": "Novembre 2026 (CSV)",
                    "download_url": file_url["production-solaire-2026-11.csv"],
                    "media_type": "text/csv",
                    "format": "CSV",
                }
            ],
        },
        {
            "slug": "courbes-charge",
            "title": "Courbes de charge au pas horaire",
            "description": (
                "Courbes de production au pas horaire, pour les chercheurs et les "
                "collectivités partenaires."
            ),
            "endpoint_url": "https://api.cooperative.example/courbes",
            "formats": ["CSV", "JSON"],
            "keywords": ["énergie", "courbes de charge"],
            "themes": [THEME + "ENER"],
            "offer": {
                "permissions": [
                    {
                        "action": "read",
                        "constraints": [
                            {"left": "purpose", "operator": "eq", "right": "research"}
                        ],
                        "duties": [
                            {
                                "action": "compensate",
                                "amount": 0.002,
                                "currency": "EUR",
                                "unit": "request",
                            }
                        ],
                    }
                ],
                "hours": [
                    {
                        "days": ["Saturday", "Sunday"],
                        "opens": "22:00",
                        "closes": "06:00",
                    }
                ],
                "quotas": [{"limit": 5000, "period": "P1M"}],
                "authentication": ["http-signature"],
                "audience": "agreement",
                "auto_accept": "any",
            },
        },
    ]


# --- governance (the metropolis) ------------------------------------------------

CHARTER_TITLE = "Charte de la donnée partagée"
CHARTER_TEXT = "\n\n".join(
    [
        "Les membres publient leurs données ouvertes, signées, sous licence libre.",
        "Chaque décision est prise par les membres, selon la règle fixée à "
        "l'ouverture du vote, et inscrite au journal public.",
        "Un signalement est examiné sous sept jours ; la personne concernée peut "
        "faire appel, et l'appel est entendu par quelqu'un d'autre.",
    ]
)

# A citizen's account on the metropolis' pages (printed by the demo: it is a demo).
DEMO_ACCOUNT = "camille"
DEMO_PASSWORD = "bocage-demo-2026"  # noqa: S105 - printed for the demo

DEMO_PROPOSALS: list[dict[str, Any]] = [
    {
        "title": "Ouvrir les comptages vélo en temps réel",
        "text": "Publier chaque heure les comptages des boucles vélo, "
        "sous licence ouverte.",
        "rule": "majority",
    },
    {
        "title": "Où installer les prochains arceaux vélo ?",
        "text": "Donnez une mention à chaque lieu : le lieu à la meilleure "
        "mention majoritaire l'emporte.",
        "rule": "judgment",
        "options": ["Gare", "Marché couvert", "Lycée"],
        "grades": [
            "excellent",
            "très bien",
            "bien",
            "passable",
            "insuffisant",
            "à rejeter",
        ],
    },
]
