"""French for every message of the pages (English is the message itself).

Keep entries grouped by page; a test fails when a message used in a template
or in page code has no entry here.  ``%(name)s`` placeholders are filled by
:meth:`node.web.i18n.Translator.gettext`.
"""

from __future__ import annotations

FRENCH: dict[str, str] = {
    # layout
    "Skip to content": "Aller au contenu",
    "Main": "Principal",
    "Catalogue": "Catalogue",
    "Services": "Services",
    "Proposals": "Propositions",
    "Charter": "Charte",
    "Members": "Membres",
    "Decision log": "Journal des décisions",
    "Sign in": "Se connecter",
    "Sign out": "Se déconnecter",
    "Follow this node from any fediverse account (Mastodon…):": (
        "Suivez ce nœud depuis n'importe quel compte du fédivers (Mastodon…) :"
    ),
    "Every page here is also a document for servers: ask for application/activity+json.": (
        "Chaque page est aussi un document pour les serveurs : "
        "demandez application/activity+json."
    ),
    "Something went wrong": "Un problème est survenu",
    "Back to the home page": "Retour à l'accueil",
    # governance pages
    "%(num)s entry": "%(num)s entrée",
    "%(num)s entries": "%(num)s entrées",
    "%(num)s member": "%(num)s membre",
    "%(num)s members": "%(num)s membres",
    "Adopted": "Adoptée",
    "Anyone can check the whole log, its signatures and its checkpoints, from this node or from any node that mirrors it:": (
        "Chacun peut vérifier tout le journal, ses signatures et ses points de "
        "contrôle, depuis ce nœud ou depuis tout nœud qui en tient une copie :"
    ),
    "Changes": "Modifications",
    "Changes to the charter": "Modifications de la charte",
    "College": "Collège",
    "Current members, by college": "Membres actuels, par collège",
    "Decided": "Décidées",
    "Entries": "Entrées",
    "Every version of the charter, newest first": (
        "Toutes les versions de la charte, de la plus récente à la plus ancienne"
    ),
    "Everything this community decides is appended here: memberships, the charter, proposals, moderation, agreements. Each entry is signed and chained to the one before, so nothing can be changed or removed without it showing.": (
        "Tout ce que cette communauté décide est ajouté ici : adhésions, charte, "
        "propositions, modération, accords. Chaque entrée est signée et chaînée à "
        "la précédente : rien ne peut être modifié ni retiré sans que cela se voie."
    ),
    "From version %(old)s (%(old_title)s) to version %(new)s (%(new_title)s).": (
        "De la version %(old)s (%(old_title)s) à la version %(new)s (%(new_title)s)."
    ),
    "Give two version numbers: from= and to=.": (
        "Donnez deux numéros de version : from= et to=."
    ),
    "How to verify it": "Comment le vérifier",
    "Latest signed checkpoint: %(size)s entries, root": (
        "Dernier point de contrôle signé : %(size)s entrées, racine"
    ),
    "Lines marked + were added, lines marked − were removed.": (
        "Les lignes marquées + ont été ajoutées, celles marquées − retirées."
    ),
    "Member": "Membre",
    "Members are people and organisations on any fediverse server. To join, open an account here and ask, or send a Join from a server that supports groups.": (
        "Les membres sont des personnes et des organisations sur n'importe quel "
        "serveur du fédivers. Pour adhérer, ouvrez un compte ici et faites-en la "
        "demande, ou envoyez un Join depuis un serveur qui gère les groupes."
    ),
    "Members decide here. Each proposal is also a poll on the fediverse: follow": (
        "Les membres décident ici. Chaque proposition est aussi un sondage dans "
        "le fédivers : suivez"
    ),
    "from Mastodon or any other server and vote in the poll when it reaches your timeline.": (
        "depuis Mastodon ou tout autre serveur et votez dans le sondage quand il "
        "arrive dans votre fil."
    ),
    "Newest entries": "Entrées les plus récentes",
    "No proposal is open at the moment.": "Aucune proposition n'est ouverte en ce moment.",
    "No such proposal.": "Cette proposition n'existe pas.",
    "No such version of the charter.": "Cette version de la charte n'existe pas.",
    "Nothing decided yet.": "Rien n'est encore décidé.",
    "Nothing has been decided yet.": "Rien n'a encore été décidé.",
    "Previous page": "Page précédente",
    "Next page": "Page suivante",
    "Older entries": "Entrées plus anciennes",
    "Open for votes": "Ouvertes au vote",
    "Pages": "Pages",
    "Read the current version": "Lire la version en vigueur",
    "Role": "Rôle",
    "Since": "Depuis",
    "The decision that adopted it (entry %(n)s of the log)": (
        "La décision qui l'a adoptée (entrée %(n)s du journal)"
    ),
    "The same data for programs:": "Les mêmes données pour les programmes :",
    "The two versions have the same text.": "Les deux versions ont le même texte.",
    "This community has not adopted a charter yet.": (
        "Cette communauté n'a pas encore adopté de charte."
    ),
    "This is not the current version.": "Ce n'est pas la version en vigueur.",
    "Title": "Titre",
    "Version": "Version",
    "Version %(n)s": "Version %(n)s",
    "Version %(version)s, adopted on %(date)s.": (
        "Version %(version)s, adoptée le %(date)s."
    ),
    "Versions": "Versions",
    "What changed from version %(n)s": "Ce qui a changé depuis la version %(n)s",
    "Your membership": "Votre adhésion",
    "checkpoints": "points de contrôle",
    "closes on %(date)s": "se termine le %(date)s",
    "colleges:": "collèges :",
    "entries": "entrées",
    "entry": "entrée",
    "first version": "première version",
    # decision kinds (node/web/pages_governance.KINDS)
    "A member admitted": "Un membre admis",
    "A membership request refused": "Une demande d'adhésion refusée",
    "A member joined by invitation": "Un membre entré sur invitation",
    "A member left": "Un membre est parti",
    "A member suspended": "Un membre suspendu",
    "A member reinstated": "Un membre rétabli",
    "A member excluded": "Un membre exclu",
    "A charter version adopted": "Une version de la charte adoptée",
    "A proposal closed": "Une proposition close",
    "An agreement accepted": "Un accord accepté",
    "An agreement refused": "Un accord refusé",
    "An agreement ended": "Un accord terminé",
    "A report decided": "Un signalement tranché",
    "An appeal heard": "Un appel entendu",
    "A follow request decided": "Une demande d'abonnement tranchée",
    "A node followed": "Un nœud suivi",
    "A node no longer followed": "Un nœud qui n'est plus suivi",
    "How followers are approved": "La façon d'approuver les abonnés",
    # rules (node/web/pages_governance.RULES)
    "Simple majority": "Majorité simple",
    "Supermajority": "Majorité qualifiée",
    "Consent": "Consentement",
    "Majority judgment": "Jugement majoritaire",
    # proposal page
    "%(num)s ballot counted": "%(num)s bulletin compté",
    "%(num)s ballots counted": "%(num)s bulletins comptés",
    "%(num)s eligible voter": "%(num)s votant·e inscrit·e",
    "%(num)s eligible voters": "%(num)s votant·es inscrit·es",
    "A poll cannot carry a reason: to object, reply to the post with a line starting with “objection:” followed by your reason.": (
        "Un sondage ne peut pas porter de raison : pour objecter, répondez à la "
        "publication par une ligne commençant par « objection : » suivie de votre "
        "raison."
    ),
    "An option you do not grade gets the lowest grade.": (
        "Une option que vous ne notez pas reçoit la mention la plus basse."
    ),
    "Ballots": "Bulletins",
    "Ballots per option": "Bulletins par option",
    "Cast my ballot": "Voter",
    "Choose an option in the poll. Only members' ballots count, one each.": (
        "Choisissez une option dans le sondage. Seuls les bulletins des membres "
        "comptent, un chacun."
    ),
    "Find this proposal in your timeline, or paste its address in your server's search:": (
        "Trouvez cette proposition dans votre fil, ou collez son adresse dans la "
        "recherche de votre serveur :"
    ),
    "Follow": "Suivez",
    "Reply to it with one line per option and your grade, for example:": (
        "Répondez-y avec une ligne par option et votre mention, par exemple :"
    ),
    "Only members' ballots count, one each; the first valid ballot of a voter is the one counted.": (
        "Seuls les bulletins des membres comptent, un chacun ; c'est le premier "
        "bulletin valide de chaque votant qui est compté."
    ),
    "You have voted on this proposal; a ballot cannot be changed.": (
        "Vous avez voté sur cette proposition ; un bulletin ne peut pas être modifié."
    ),
    "Grades, best first:": "Mentions, de la meilleure à la moins bonne :",
    "How many voters gave each grade; the majority grade is the median one.": (
        "Combien de votants ont donné chaque mention ; la mention majoritaire est "
        "la mention médiane."
    ),
    "How to vote": "Comment voter",
    "If adopted, this text becomes the charter:": (
        "Si elle est adoptée, ce texte devient la charte :"
    ),
    "Majority grade": "Mention majoritaire",
    "Members with an account here can also vote on this page.": (
        "Les membres qui ont un compte ici peuvent aussi voter sur cette page."
    ),
    "Objections": "Objections",
    "Option": "Option",
    "Outcome:": "Résultat :",
    "Results": "Résultats",
    "Results so far": "Résultats provisoires",
    "Share": "Part",
    "The decision in the log (entry %(n)s)": "La décision dans le journal (entrée %(n)s)",
    "The tally is published with every counted ballot; anyone can recount it:": (
        "Le dépouillement est publié avec chaque bulletin compté ; chacun peut le "
        "refaire :"
    ),
    "Vote here": "Voter ici",
    "Your account is not in this proposal's electorate (members at the time it opened).": (
        "Votre compte ne fait pas partie du corps électoral de cette proposition "
        "(les membres au moment de son ouverture)."
    ),
    "Your ballot was counted.": "Votre bulletin a été compté.",
    "Your choice": "Votre choix",
    "Your reason, if you object": "Votre raison, si vous objectez",
    "closed on %(date)s": "close le %(date)s",
    "from your fediverse account (Mastodon, Misskey…).": (
        "depuis votre compte du fédivers (Mastodon, Misskey…)."
    ),
    "open until %(date)s": "ouverte jusqu'au %(date)s",
    "quorum": "quorum",
    "threshold": "seuil",
    "yes": "oui",
    "no": "non",
    "abstain": "abstention",
    "consent": "consentement",
    "object": "objection",
    "adopted": "adoptée",
    "no decision (quorum not reached)": "pas de décision (quorum non atteint)",
    "chosen": "retenue",
    "a tie": "égalité",
    # catalogue pages (node/web/pages_catalogue.py, node/contracts_web.py)
    # home
    "Follow this node": "Suivre ce nœud",
    "From Mastodon or any other fediverse account, search for this address and follow it:": (
        "Depuis Mastodon ou tout autre compte du fédivers, cherchez cette adresse et "
        "abonnez-vous :"
    ),
    "Its new datasets, service offers and proposals will then appear in your timeline, and you can vote in its polls.": (
        "Ses nouveaux jeux de données, offres de service et propositions "
        "apparaîtront alors dans votre fil, et vous pourrez voter dans ses sondages."
    ),
    "In figures": "En chiffres",
    "%(count)s dataset published here": "%(count)s jeu de données publié ici",
    "%(count)s datasets published here": "%(count)s jeux de données publiés ici",
    "%(count)s service offered to other nodes": (
        "%(count)s service offert aux autres nœuds"
    ),
    "%(count)s services offered to other nodes": (
        "%(count)s services offerts aux autres nœuds"
    ),
    "%(count)s record mirrored from peer nodes": (
        "%(count)s fiche répliquée depuis des nœuds pairs"
    ),
    "%(count)s records mirrored from peer nodes": (
        "%(count)s fiches répliquées depuis des nœuds pairs"
    ),
    "%(count)s peer node followed": "%(count)s nœud pair suivi",
    "%(count)s peer nodes followed": "%(count)s nœuds pairs suivis",
    "%(count)s member of the community": "%(count)s membre de la communauté",
    "%(count)s members of the community": "%(count)s membres de la communauté",
    "Latest datasets": "Derniers jeux de données",
    "The whole catalogue": "Tout le catalogue",
    "No dataset is published yet.": "Aucun jeu de données n'est encore publié.",
    "Latest service offers": "Dernières offres de service",
    "Every service offer": "Toutes les offres de service",
    "No service is offered yet.": "Aucun service n'est encore offert.",
    "Open proposals": "Propositions ouvertes au vote",
    "voting closes on %(date)s": "le vote se termine le %(date)s",
    "No proposal is open to the vote.": "Aucune proposition n'est ouverte au vote.",
    "How this node is governed": "Comment ce nœud est gouverné",
    "The charter it follows": "La charte qu'il suit",
    "Its members": "Ses membres",
    "The log of its decisions, signed and verifiable": (
        "Le journal de ses décisions, signé et vérifiable"
    ),
    # catalogue and search
    "%(count)s dataset or service offer published by this node.": (
        "%(count)s jeu de données ou offre de service publié par ce nœud."
    ),
    "%(count)s datasets and service offers published by this node.": (
        "%(count)s jeux de données et offres de service publiés par ce nœud."
    ),
    "Search the catalogue": "Chercher dans le catalogue",
    "Search": "Chercher",
    "Every word must appear; records mirrored from peer nodes are searched too.": (
        "Chaque mot doit figurer ; la recherche porte aussi sur les fiches "
        "répliquées depuis les nœuds pairs."
    ),
    "Kind of record": "Type de fiche",
    "Datasets and service offers": "Jeux de données et offres de service",
    "Datasets": "Jeux de données",
    "Service offers": "Offres de service",
    "Keyword:": "Mot-clé :",
    "Theme:": "Thème :",
    "remove this filter": "retirer ce filtre",
    "Search results": "Résultats de la recherche",
    "Latest records": "Dernières fiches",
    "%(count)s record found.": "%(count)s fiche trouvée.",
    "%(count)s records found.": "%(count)s fiches trouvées.",
    "No result for “%(q)s”.": "Aucun résultat pour « %(q)s ».",
    "No result.": "Aucun résultat.",
    "No record is published yet.": "Aucune fiche n'est encore publiée.",
    "Dataset": "Jeu de données",
    "Service offer": "Offre de service",
    "mirrored from %(host)s": "répliquée depuis %(host)s",
    "Page navigation": "Navigation entre les pages",
    "Newest": "Les plus récentes",
    # ("Previous page" and "Next page" are in the governance section.)
    # dataset and service pages
    "Publisher:": "Éditeur :",
    "Published by %(publisher)s on %(host)s, and mirrored here.": (
        "Publication de %(publisher)s sur %(host)s, répliquée ici."
    ),
    "Its signature was verified on %(date)s.": (
        "Sa signature a été vérifiée le %(date)s."
    ),
    "See it on its publisher's node": "Le voir sur le nœud de son éditeur",
    "For machines": "Pour les machines",
    "This record as linked data (DCAT-AP):": "Cette fiche en données liées (DCAT-AP) :",
    "The signed document as received": "Le document signé tel que reçu",
    "Fediverse servers get the signed ActivityStreams document on this same address.": (
        "Les serveurs du fédivers obtiennent le document ActivityStreams signé à "
        "cette même adresse."
    ),
    "About this dataset": "À propos de ce jeu de données",
    "Get the data": "Obtenir les données",
    "This dataset has no distribution yet.": (
        "Ce jeu de données n'a pas encore de distribution."
    ),
    "Download": "Télécharger",
    "Access the data": "Accéder aux données",
    "First row of %(title)s": "%(title)s : la première ligne",
    "First %(count)s rows of %(title)s": "%(title)s : les %(count)s premières lignes",
    "%(count)s more distribution is listed in the linked-data exports below.": (
        "%(count)s autre distribution figure dans les exports en données liées "
        "ci-dessous."
    ),
    "%(count)s more distributions are listed in the linked-data exports below.": (
        "%(count)s autres distributions figurent dans les exports en données liées "
        "ci-dessous."
    ),
    "Distribution %(number)s": "Distribution %(number)s",
    "Keywords": "Mots-clés",
    "Themes": "Thèmes",
    "Licence": "Licence",
    "Access rights": "Droits d'accès",
    "Published": "Publication",
    "Updated": "Mise à jour",
    "Update frequency": "Fréquence de mise à jour",
    "Contact": "Contact",
    "Standards": "Normes",
    "Format": "Format",
    "Media type": "Type de média",
    "Size": "Taille",
    "Language": "Langue",
    "Places covered": "Lieux couverts",
    "Period covered": "Période couverte",
    "since %(date)s": "depuis le %(date)s",
    "until %(date)s": "jusqu'au %(date)s",
    "Web page": "Page web",
    "continuously": "en continu",
    "every hour": "toutes les heures",
    "every day": "tous les jours",
    "every week": "toutes les semaines",
    "every month": "tous les mois",
    "every quarter": "tous les trimestres",
    "every year": "tous les ans",
    "irregularly": "irrégulièrement",
    "Description of the interface": "Description de l'interface",
    "Formats": "Formats",
    "Datasets served": "Jeux de données servis",
    "There is no such record here.": "Cette fiche n'existe pas ici.",
    "Its publisher withdrew this record.": "Son éditeur a retiré cette fiche.",
    "No record mirrored here has this id.": (
        "Aucune fiche répliquée ici n'a cet identifiant."
    ),
    "The contract in plain words": "Le contrat en clair",
    "This summary is written from the offer's ODRL policy, the same terms the node enforces; the linked-data exports below carry the policy itself.": (
        "Ce résumé est rédigé à partir de la politique ODRL de l'offre, les termes "
        "mêmes que le nœud applique ; les exports en données liées ci-dessous "
        "contiennent la politique elle-même."
    ),
    "This offer publishes no contract.": "Cette offre ne publie pas de contrat.",
    "The contract of this offer cannot be read: %(reason)s": (
        "Le contrat de cette offre est illisible : %(reason)s"
    ),
    "Address of the service:": "Adresse du service :",
    "About this offer": "À propos de cette offre",
    "Agreements": "Accords",
    "Agreements on this node's offers are public, like its decision log: they bind nodes, never individual people.": (
        "Les accords sur les offres de ce nœud sont publics, comme son journal des "
        "décisions : ils lient des nœuds, jamais des personnes."
    ),
    "%(count)s agreement on this offer": "%(count)s accord sur cette offre",
    "%(count)s agreements on this offer": "%(count)s accords sur cette offre",
    "Node": "Nœud",
    "State": "État",
    "Agreed on": "Conclu le",
    "Ended on": "Terminé le",
    "in effect": "en vigueur",
    "ended": "terminé",
    "No node holds an agreement on this offer yet.": (
        "Aucun nœud n'a encore d'accord sur cette offre."
    ),
    "Usage": "Utilisation",
    "Over the last %(days)s days:": "Ces %(days)s derniers jours :",
    "%(count)s call": "%(count)s appel",
    "%(count)s calls": "%(count)s appels",
    "%(count)s node": "%(count)s nœud",
    "%(count)s nodes": "%(count)s nœuds",
    "The usage ledger, day by day": "Le registre d'utilisation, jour par jour",
    # services and ledger
    "Services this node offers to other nodes, each with its contract: who may use it, when, how much and on what terms.": (
        "Les services que ce nœud offre aux autres nœuds, chacun avec son contrat : "
        "qui peut l'utiliser, quand, combien et à quelles conditions."
    ),
    "%(count)s service offer.": "%(count)s offre de service.",
    "%(count)s service offers.": "%(count)s offres de service.",
    "Offers of peer nodes": "Offres des nœuds pairs",
    "There is no such service offer.": "Cette offre de service n'existe pas.",
    "Usage of %(title)s": "Utilisation de %(title)s",
    "How much each node used the offer, day by day (UTC). Nodes are organisations; nothing here tells about a person.": (
        "Combien chaque nœud a utilisé l'offre, jour par jour (UTC). Les nœuds sont "
        "des organisations ; rien ici ne renseigne sur une personne."
    ),
    "Back to the offer": "Retour à l'offre",
    "Calls per node and per day": "Appels par nœud et par jour",
    "Day (UTC)": "Jour (UTC)",
    "Calls": "Appels",
    "No use is recorded yet.": "Aucune utilisation n'est encore enregistrée.",
    # contracts in plain words (node/contracts_web.offer_in_words)
    "Who": "Qui",
    "What": "Quoi",
    "When": "Quand",
    "How much": "Combien",
    "Access": "Accès",
    "Price and reciprocity": "Prix et réciprocité",
    "Agreement": "Accord",
    "%(who)s %(actions)s, %(when)s, %(quotas)s.": (
        "%(who)s %(actions)s, %(when)s, %(quotas)s."
    ),
    "%(who)s %(actions)s, %(when)s.": "%(who)s %(actions)s, %(when)s.",
    "Anyone may": "Tout le monde peut",
    "Anyone, without asking for an agreement.": (
        "Tout le monde, sans demander d'accord."
    ),
    "Members of the community may": "Les membres de la communauté peuvent",
    "Members of the community, once they hold an agreement on this offer.": (
        "Les membres de la communauté, une fois titulaires d'un accord sur cette offre."
    ),
    "Nodes holding an agreement may": "Les nœuds titulaires d'un accord peuvent",
    "Any node that holds an agreement on this offer.": (
        "Tout nœud titulaire d'un accord sur cette offre."
    ),
    "Only %(nodes)s may": "Seuls %(nodes)s peuvent",
    "Only these nodes: %(nodes)s.": "Seulement ces nœuds : %(nodes)s.",
    "read the data": "lire les données",
    "write data": "écrire des données",
    "delete data": "supprimer des données",
    "use the service": "utiliser le service",
    "redistribute the data": "redistribuer les données",
    "aggregate the data": "agréger les données",
    "Permitted: %(actions)s.": "Autorisé : %(actions)s.",
    "Not permitted: %(actions)s.": "Non autorisé : %(actions)s.",
    "To %(action)s: %(condition)s": "Pour %(action)s : %(condition)s",
    "and": "et",
    "or": "ou",
    "%(count)s other": "%(count)s autre",
    "%(count)s others": "%(count)s autres",
    "Monday": "lundi",
    "Tuesday": "mardi",
    "Wednesday": "mercredi",
    "Thursday": "jeudi",
    "Friday": "vendredi",
    "Saturday": "samedi",
    "Sunday": "dimanche",
    "from %(first)s to %(last)s": "du %(first)s au %(last)s",
    "on %(days)s": "le %(days)s",
    "%(days)s, %(opens)s to %(closes)s": "%(days)s, de %(opens)s à %(closes)s",
    "%(days)s, %(opens)s to %(closes)s the next day": (
        "%(days)s, de %(opens)s à %(closes)s le lendemain"
    ),
    "%(days)s, all day": "%(days)s, toute la journée",
    "at any time": "à toute heure",
    "up to %(amount)s %(period)s": "jusqu'à %(amount)s %(period)s",
    "%(count)s request": "%(count)s requête",
    "%(count)s requests": "%(count)s requêtes",
    "%(size)s bytes": "%(size)s octets",
    "%(size)s kB": "%(size)s ko",
    "%(size)s MB": "%(size)s Mo",
    "%(size)s GB": "%(size)s Go",
    "%(size)s TB": "%(size)s To",
    "a second": "par seconde",
    "a minute": "par minute",
    "an hour": "par heure",
    "a day": "par jour",
    "a week": "par semaine",
    "a month": "par mois",
    "a year": "par an",
    "every %(count)s seconds": "toutes les %(count)s secondes",
    "every %(count)s minutes": "toutes les %(count)s minutes",
    "every %(count)s hours": "toutes les %(count)s heures",
    "every %(count)s days": "tous les %(count)s jours",
    "every %(count)s weeks": "toutes les %(count)s semaines",
    "every %(count)s months": "tous les %(count)s mois",
    "every %(count)s years": "tous les %(count)s ans",
    "per period of %(period)s (ISO 8601)": "par période de %(period)s (ISO 8601)",
    "No quota.": "Aucun quota.",
    "Valid until %(date)s.": "Valable jusqu'au %(date)s.",
    "Valid from %(date)s.": "Valable à partir du %(date)s.",
    "Only for this purpose: %(values)s.": (
        "Uniquement pour cette finalité : %(values)s."
    ),
    "Not for this purpose: %(values)s.": "Pas pour cette finalité : %(values)s.",
    "Only for this territory: %(values)s.": (
        "Uniquement pour ce territoire : %(values)s."
    ),
    "Not for this territory: %(values)s.": "Pas pour ce territoire : %(values)s.",
    "At most %(count)s use in all.": "Au plus %(count)s utilisation en tout.",
    "At most %(count)s uses in all.": "Au plus %(count)s utilisations en tout.",
    "Not for: %(values)s.": "Sauf pour : %(values)s.",
    "Condition: %(left)s %(operator)s %(right)s.": (
        "Condition : %(left)s %(operator)s %(right)s."
    ),
    "No identification is needed.": "Aucune identification n'est demandée.",
    "Each request must %(methods)s.": "Chaque requête doit %(methods)s.",
    "be signed by the calling server (HTTP Signatures)": (
        "être signée par le serveur appelant (HTTP Signatures)"
    ),
    "carry the token of the agreement": "porter le jeton de l'accord",
    "Connections must be encrypted (HTTPS).": (
        "Les connexions doivent être chiffrées (HTTPS)."
    ),
    "Connections need not be encrypted.": (
        "Les connexions peuvent ne pas être chiffrées."
    ),
    "Free of charge.": "Gratuit.",
    "A price is due, set in the agreement.": "Un prix est dû, fixé dans l'accord.",
    "Price: %(price)s %(unit)s.": "Prix : %(price)s %(unit)s.",
    "Price: %(price)s.": "Prix : %(price)s.",
    "per request": "par requête",
    "per month": "par mois",
    "per GB": "par Go",
    "In return: %(note)s.": "En retour : %(note)s.",
    "Something is due in return, set in the agreement.": (
        "Une contrepartie est due, fixée dans l'accord."
    ),
    "Credit %(publisher)s for the data.": (
        "Citer %(publisher)s comme source des données."
    ),
    "Share what you derive under the same terms.": (
        "Partager ce qui en est dérivé aux mêmes conditions."
    ),
    "No agreement is needed.": "Aucun accord n'est nécessaire.",
    "Requests for an agreement are accepted automatically.": (
        "Les demandes d'accord sont acceptées automatiquement."
    ),
    "Requests for an agreement from members of the community are accepted automatically; an administrator examines the others.": (
        "Les demandes d'accord des membres de la communauté sont acceptées "
        "automatiquement ; une administratrice ou un administrateur examine les "
        "autres."
    ),
    "Requests for an agreement from %(nodes)s are accepted automatically; an administrator examines the others.": (
        "Les demandes d'accord de %(nodes)s sont acceptées automatiquement ; une "
        "administratrice ou un administrateur examine les autres."
    ),
    # refusals of a ballot (node.proposals)
    "this proposal is closed": "cette proposition est close",
    "you are not in this proposal's electorate": (
        "vous ne faites pas partie du corps électoral de cette proposition"
    ),
    "you already voted": "vous avez déjà voté",
    "you have sent too many ballots on this proposal": (
        "vous avez envoyé trop de bulletins pour cette proposition"
    ),
    "the ballot is too large": "le bulletin est trop long",
    "this proposal is voted by grading each option": (
        "on vote sur cette proposition en donnant une mention à chaque option"
    ),
    "an objection needs a reason": "une objection doit donner sa raison",
    # replies (node/web/templates/replies.html)
    "Replies from the fediverse": "Réponses venues du fédivers",
    "No reply yet.": "Pas encore de réponse.",
    "To reply, paste this address in your fediverse server's search (Mastodon…) and answer the post:": (
        "Pour répondre, collez cette adresse dans la recherche de votre serveur "
        "du fédivers (Mastodon…) et répondez à la publication :"
    ),
    # actors and posts (node/web/pages_fediverse.py)
    "There is no such account here.": "Ce compte n'existe pas ici.",
    "There is no such post here.": "Cette publication n'existe pas ici.",
    "Its author deleted this post.": "Son autrice ou son auteur l'a supprimée.",
    "Post": "Publication",
    "A post by": "Une publication de",
    "Follow this account from any fediverse account (Mastodon…): search for its address and follow it.": (
        "Suivez ce compte depuis n'importe quel compte du fédivers (Mastodon…) : "
        "cherchez son adresse et abonnez-vous."
    ),
    "Latest posts": "Dernières publications",
    "Nothing posted yet.": "Rien de publié pour l'instant.",
    # accounts
    "User name": "Nom d'utilisateur",
    "Password": "Mot de passe",
    "Password again": "Mot de passe, à nouveau",
    "Display name": "Nom affiché",
    "No account yet?": "Pas encore de compte ?",
    "Open an account": "Ouvrir un compte",
    "Open my account": "Ouvrir mon compte",
    "On Mastodon or another fediverse server? You do not need an account here: follow": (
        "Sur Mastodon ou un autre serveur du fédivers ? "
        "Pas besoin de compte ici : suivez"
    ),
    "and vote in its polls.": "et votez dans ses sondages.",
    "An account lets you ask to become a member, and cast graded ballots that a Mastodon poll cannot carry.": (
        "Un compte vous permet de demander à devenir membre et de voter "
        "par mentions, ce qu'un sondage Mastodon ne sait pas faire."
    ),
    "3 to 30 lower-case letters, digits or _": (
        "3 à 30 lettres minuscules, chiffres ou _"
    ),
    "At least 10 characters.": "Au moins 10 caractères.",
    "a user name is 3 to 30 lower-case letters, digits or _": (
        "un nom d'utilisateur compte 3 à 30 lettres minuscules, chiffres ou _"
    ),
    "a password has at least 10 characters": (
        "un mot de passe compte au moins 10 caractères"
    ),
    "the two passwords differ": "les deux mots de passe diffèrent",
    "wrong user name or password": "nom d'utilisateur ou mot de passe incorrect",
    "too many failed attempts; try again later": (
        "trop d'essais infructueux ; réessayez plus tard"
    ),
    "This node does not open accounts.": "Ce nœud n'ouvre pas de comptes.",
    "Your fediverse address:": "Votre adresse dans le fédivers :",
    "Your request was sent. An administrator will decide on it.": (
        "Votre demande est envoyée. Une administratrice ou un administrateur "
        "en décidera."
    ),
    "Membership": "Adhésion",
    "You are not a member of this community.": (
        "Vous n'êtes pas membre de cette communauté."
    ),
    "Ask to become a member": "Demander à devenir membre",
    "Ask again to become a member": "Demander à nouveau à devenir membre",
    "Your request to join is waiting for a decision.": (
        "Votre demande d'adhésion attend une décision."
    ),
    "You are a member": "Vous êtes membre",
    "college": "collège",
    "role": "rôle",
    "See the proposals you can vote on": "Voir les propositions soumises au vote",
    "Membership state:": "État de l'adhésion :",
    # membership states and roles
    "member": "membre",
    "moderator": "modération",
    "administrator": "administration",
    "requested": "demandée",
    "invited": "invitation envoyée",
    "rejected": "refusée",
    "left": "partie",
    "suspended": "suspendue",
    "excluded": "exclue",
}
