"""The dashboard's words and number formats, in English and French (pure).

The language is the merchant's choice (the switch, kept in the session and a user's account),
else what the platform said at login (Shopify's `locale`, WordPress's user locale), else the
browser's Accept-Language, else English. Messages take `str.format` fields; the templates
escape everything, never this module. Adding a page: add its `nav_<name>` and its words in
both languages (a test checks that both have the same keys).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from parcours.dashboard_insights_text import INSIGHTS_EN, INSIGHTS_FR

__all__ = ["LANGUAGES", "TEXT", "Formats", "pick_language"]

LANGUAGES = ("en", "fr")

_STAGES_EN = {"awareness": "Awareness", "research": "Research", "comparison": "Comparison",
              "decision": "Decision", "purchase": "Purchase", "reception": "Reception",
              "evaluation": "Evaluation", "loyalty": "Loyalty"}
_STAGES_FR = {"awareness": "Découverte", "research": "Recherche", "comparison": "Comparaison",
              "decision": "Décision", "purchase": "Achat", "reception": "Réception",
              "evaluation": "Évaluation", "loyalty": "Fidélité"}

_EN: dict[str, str] = {
    "other_language": "Français",
    "skip": "Skip to the content",
    "logout": "Log out",
    "nav_label": "Dashboard pages",
    "nav_overview": "Overview", "nav_funnel": "Funnel", "nav_stages": "Stages and flows",
    "nav_reviews": "Reviews", "nav_settings": "Widgets and settings", "nav_export": "Export",
    "nav_privacy": "Privacy requests",
    "back_home": "Back to the dashboard",
    # login
    "login_title": "Log in to Parcours",
    "email": "Email", "password": "Password", "login_button": "Log in",
    "login_platforms": "Shopify and WooCommerce merchants open the dashboard from their store's "
                       "admin (the Parcours app, or WooCommerce > Parcours).",
    "login_refused": "Wrong email or password. After 5 failed attempts, logging in pauses for "
                     "15 minutes.",
    "login_rate": "Too many attempts from this connection: wait a few minutes, then try again.",
    "csrf": "For your security, the form must be sent from the page itself, with cookies "
            "allowed. Try again.",
    "csrf_title": "This form could not be sent",
    "csrf_body": "For your security, forms must be sent from the dashboard's own pages, with "
                 "cookies allowed. Go back, reload the page, then send it again.",
    "notice_logged_out": "You are logged out.",
    "not_found_title": "Page not found",
    "not_found_body": "This page or store does not exist, or your account cannot see it.",
    "forbidden_title": "Not allowed", "forbidden_body": "Your account cannot do this.",
    "read_only_note": "Your role is read-only: you can see this page but not change it.",
    "not_allowed_title": "Not allowed", "not_allowed_body": "This page cannot be used this way.",
    "refused_title": "This was not saved",
    "platform_refused_title": "This link does not open the dashboard",
    "platform_refused_body": "It has expired, was already used, or was not made for this "
                             "server. Open Parcours again from your store's admin.",
    # stores
    "stores_title": "Your stores", "store_name": "Store", "store_key": "Key",
    "store_platform": "Platform",
    "stores_empty": "Your account has no store yet. Connect one from Shopify or WooCommerce, "
                    "or add a custom shop with `parcours stores add`.",
    "platform_shopify": "Shopify", "platform_woocommerce": "WooCommerce",
    "platform_custom": "Custom shop",
    # period
    "period_presets": "Period", "last_days": "Last {days} days", "period_from": "From",
    "period_to": "To", "period_apply": "Show",
    "period_shown": "From {start} to {end}, both included.",
    "period_day": "a day such as 2026-03-01", "period_order": "must not be after the end",
    "period_long": "the period is limited to two years",
    # overview
    "overview_title": "Overview", "kpis_title": "Key figures",
    "compared_with": "Changes are against the period before, {start} to {end}.",
    "kpi_journeys": "Journeys", "kpi_conversion": "Conversion",
    "kpi_cart_abandonment": "Cart abandonment",
    "kpi_checkout_abandonment": "Checkout abandonment",
    "kpi_payment_failure_rate": "Payment failures", "kpi_orders": "Orders",
    "kpi_revenue": "Revenue", "kpi_average_order_value": "Average order value",
    "kpi_repeat_purchase_rate": "Repeat purchase rate",
    "kpi_time_to_convert": "Median time to buy",
    "delta_up": "up {change} on the period before",
    "delta_down": "down {change} on the period before",
    "delta_same": "as in the period before", "delta_none": "nothing to compare with",
    "points": "{value} pts",
    "distribution_title": "Shoppers by stage now",
    "distribution_hint": "Where each shopper's latest journey stands today.",
    "empty_title": "No data for this period yet",
    "empty_body": "Numbers appear once the storefront sends events and orders arrive. Check "
                  "that the widgets are on, or pick a longer period.",
    # funnel
    "funnel_title": "Funnel", "funnel_chart_title": "Journeys reaching each stage",
    "funnel_overall": "{rate} of {journeys} journeys ended in a purchase.",
    "funnel_table": "Journeys, conversion and drop-off per stage", "stage": "Stage",
    "journeys": "Journeys", "step_conversion": "From the stage before",
    "drop_off": "Lost at this step",
    # stages
    "stages_title": "Stages and flows", "events_by_day": "Events per day",
    "no_events": "No event in this period.", "flows_title": "Moves between stages",
    "flow_from": "From", "flow_to": "To", "no_flows": "No move between stages yet.",
    # reviews
    "reviews_title": "Reviews", "reviews_filter": "Show reviews",
    "reviews_rules": "Every review is published whatever its rating. Reject only spam and "
                     "abuse.",
    "status_all": "All", "status_published": "Published", "status_pending": "Awaiting check",
    "status_rejected": "Rejected",
    "reviews_count": "{count} reviews",
    "reviews_empty_title": "No review here yet",
    "reviews_empty_body": "Reviews appear as shoppers answer review requests, or when you "
                          "import them (`parcours reviews import`).",
    "rating_of": "{rating} out of 5 stars", "untitled": "(no title)", "anonymous": "Anonymous",
    "product": "product", "verified": "verified buyer", "incentive": "Incentive",
    "your_reply": "Your public reply", "publish": "Publish", "reject": "Reject",
    "reject_reason": "Reason", "choose": "Choose…", "reason_spam": "Spam",
    "reason_abuse": "Abuse", "reason_personal_data": "Personal data",
    "reason_off_topic": "Off topic",
    "reply_label": "Public reply", "reply_hint": "Shown under the review. Empty it to remove it.",
    "reply_save": "Save the reply", "pages": "Pages", "previous_page": "Previous page",
    "next_page": "Next page", "page_of": "Page {page} of {pages}",
    "notice_published": "The review is published.",
    "notice_rejected": "The review is rejected and withdrawn from the storefront.",
    "notice_reason_required": "Choose why the review is rejected: spam or abuse.",
    "notice_replied": "Your reply is saved and published with the review.",
    "notice_reply_removed": "Your reply is removed.",
    "notice_reply_too_long": "The reply was not saved: at most 5,000 characters.",
    # settings
    "settings_title": "Widgets and settings", "widgets_legend": "Storefront widgets",
    "widgets_hint": "Switch each widget on or off. Changes reach the storefront within five "
                    "minutes.",
    "widget_shipping_estimate": "Shipping estimate", "widget_review_stars": "Review stars",
    "widget_review_list": "Review list", "widget_express_pay": "Express pay",
    "widget_guest_checkout": "Guest checkout prompt",
    "holdout": "Holdout share (%)", "holdout_of": "Holdout share of {widget}",
    "holdout_hint": "The share of shoppers, 0 to 100 %, who do not see the widget, so that "
                    "its effect can be measured. 0: everyone sees it.",
    "holdout_invalid": "a share from 0 to 100",
    "shipping_legend": "Free delivery", "free_from_of": "Free delivery from, {zone}",
    "shipping_hint": "The order amount ({currency}) from which delivery is free in each zone. "
                     "Empty: never free.",
    "shipping_platform": "Delivery rates come from {platform}: change them in its admin.",
    "shipping_none": "No shipping zone is set for this shop (`parcours widgets set`).",
    "threshold_invalid": "an amount such as 60 or 59.90",
    "free_rate_name": "Free delivery",
    "reviews_legend": "Review requests",
    "reviews_enabled": "Ask buyers for a review",
    "delay_days": "Days after delivery",
    "delay_hint": "0 to 60 days after the parcel arrives.",
    "delay_invalid": "a whole number of days from 0 to 60",
    "settings_invalid": "not a valid setting",
    "save": "Save", "errors_heading": "There is a problem",
    "notice_saved": "Settings saved.",
    "notice_saved_not_pushed": "Settings saved, but the storefront's copy could not be updated "
                               "yet: it is updated at the next change.",
    # export
    "export_title": "Export", "export_kpis": "Key figures of the period (CSV)",
    "export_funnel": "Funnel of the period (CSV)", "export_reviews": "Every review (CSV)",
    "export_hint": "CSV files open in any spreadsheet. The reviews file imports back with "
                   "`parcours reviews import`.",
    # privacy
    "privacy_title": "Privacy requests",
    "privacy_intro": "When a customer asks what you hold on them, export it; when they ask to "
                     "be forgotten, redact them. Redaction cannot be undone; your figures stay "
                     "the same.",
    "privacy_kind": "Request", "kind_export": "Export the customer's data",
    "kind_redact": "Redact the customer (remove their personal data)",
    "kind_data_request": "Export", "kind_redact_customer": "Redaction",
    "subject": "Customer", "subject_hint": "Name the customer by at least one of email, "
                                           "customer id or order ids.",
    "customer_id": "Customer id", "phone": "Phone (optional)",
    "order_ids": "Order ids (separated by commas)",
    "confirm_redact": "I understand that a redaction cannot be undone",
    "privacy_submit": "Send the request", "privacy_history": "Past requests",
    "requested_at": "Date", "privacy_export": "Export", "download_json": "Download (JSON)",
    "export_gone": "deleted (redaction or retention)",
    "privacy_empty": "No privacy request yet.",
    "subject_invalid": "give a valid email, customer id or order ids",
    "kind_invalid": "choose export or redaction",
    "confirm_required": "tick to confirm the redaction",
    "notice_exported": "The export is ready: download it below.",
    "notice_redacted": "The customer's personal data is removed.",
    **{f"stage_{key}": value for key, value in _STAGES_EN.items()},
    **INSIGHTS_EN,
}

_FR: dict[str, str] = {
    "other_language": "English",
    "skip": "Aller au contenu",
    "logout": "Se déconnecter",
    "nav_label": "Pages du tableau de bord",
    "nav_overview": "Vue d'ensemble", "nav_funnel": "Entonnoir",
    "nav_stages": "Étapes et flux", "nav_reviews": "Avis",
    "nav_settings": "Widgets et réglages", "nav_export": "Export",
    "nav_privacy": "Demandes RGPD",
    "back_home": "Retour au tableau de bord",
    "login_title": "Connexion à Parcours",
    "email": "E-mail", "password": "Mot de passe", "login_button": "Se connecter",
    "login_platforms": "Les marchands Shopify et WooCommerce ouvrent le tableau de bord depuis "
                       "l'administration de leur boutique (l'app Parcours, ou WooCommerce > "
                       "Parcours).",
    "login_refused": "E-mail ou mot de passe incorrect. Après 5 échecs, la connexion est "
                     "suspendue 15 minutes.",
    "login_rate": "Trop de tentatives depuis cette connexion : attendez quelques minutes, puis "
                  "réessayez.",
    "csrf": "Pour votre sécurité, le formulaire doit être envoyé depuis sa page, cookies "
            "autorisés. Réessayez.",
    "csrf_title": "Ce formulaire n'a pas pu être envoyé",
    "csrf_body": "Pour votre sécurité, les formulaires doivent être envoyés depuis les pages du "
                 "tableau de bord, cookies autorisés. Revenez en arrière, rechargez la page, "
                 "puis envoyez-le de nouveau.",
    "notice_logged_out": "Vous êtes déconnecté.",
    "not_found_title": "Page introuvable",
    "not_found_body": "Cette page ou cette boutique n'existe pas, ou votre compte n'y a pas "
                      "accès.",
    "forbidden_title": "Non autorisé", "forbidden_body": "Votre compte ne peut pas faire cela.",
    "read_only_note": "Votre rôle est en lecture seule : vous voyez cette page sans pouvoir la "
                      "modifier.",
    "not_allowed_title": "Non autorisé",
    "not_allowed_body": "Cette page ne s'utilise pas ainsi.",
    "refused_title": "Rien n'a été enregistré",
    "platform_refused_title": "Ce lien n'ouvre pas le tableau de bord",
    "platform_refused_body": "Il a expiré, a déjà servi, ou n'a pas été fait pour ce serveur. "
                             "Ouvrez de nouveau Parcours depuis l'administration de votre "
                             "boutique.",
    "stores_title": "Vos boutiques", "store_name": "Boutique", "store_key": "Clé",
    "store_platform": "Plateforme",
    "stores_empty": "Votre compte n'a pas encore de boutique. Connectez-en une depuis Shopify "
                    "ou WooCommerce, ou ajoutez une boutique sur mesure avec "
                    "`parcours stores add`.",
    "platform_shopify": "Shopify", "platform_woocommerce": "WooCommerce",
    "platform_custom": "Boutique sur mesure",
    "period_presets": "Période", "last_days": "{days} derniers jours", "period_from": "Du",
    "period_to": "Au", "period_apply": "Afficher",
    "period_shown": "Du {start} au {end} inclus.",
    "period_day": "un jour comme 2026-03-01", "period_order": "ne doit pas suivre la fin",
    "period_long": "la période est limitée à deux ans",
    "overview_title": "Vue d'ensemble", "kpis_title": "Chiffres clés",
    "compared_with": "Les évolutions se comparent à la période précédente, du {start} au "
                     "{end}.",
    "kpi_journeys": "Parcours", "kpi_conversion": "Conversion",
    "kpi_cart_abandonment": "Abandon de panier",
    "kpi_checkout_abandonment": "Abandon au paiement",
    "kpi_payment_failure_rate": "Échecs de paiement", "kpi_orders": "Commandes",
    "kpi_revenue": "Chiffre d'affaires", "kpi_average_order_value": "Panier moyen",
    "kpi_repeat_purchase_rate": "Taux de réachat",
    "kpi_time_to_convert": "Délai médian d'achat",
    "delta_up": "en hausse de {change} sur la période précédente",
    "delta_down": "en baisse de {change} sur la période précédente",
    "delta_same": "comme sur la période précédente", "delta_none": "rien à comparer",
    "points": "{value} pts",
    "distribution_title": "Clients par étape aujourd'hui",
    "distribution_hint": "Où en est le dernier parcours de chaque client aujourd'hui.",
    "empty_title": "Pas encore de données sur cette période",
    "empty_body": "Les chiffres apparaissent dès que la boutique envoie des événements et que "
                  "des commandes arrivent. Vérifiez que les widgets sont activés, ou choisissez "
                  "une période plus longue.",
    "funnel_title": "Entonnoir", "funnel_chart_title": "Parcours atteignant chaque étape",
    "funnel_overall": "{rate} des {journeys} parcours se terminent par un achat.",
    "funnel_table": "Parcours, conversion et pertes par étape", "stage": "Étape",
    "journeys": "Parcours", "step_conversion": "Depuis l'étape précédente",
    "drop_off": "Perdus à cette étape",
    "stages_title": "Étapes et flux", "events_by_day": "Événements par jour",
    "no_events": "Aucun événement sur cette période.",
    "flows_title": "Passages d'une étape à l'autre", "flow_from": "De", "flow_to": "Vers",
    "no_flows": "Aucun passage entre étapes pour l'instant.",
    "reviews_title": "Avis", "reviews_filter": "Afficher les avis",
    "reviews_rules": "Chaque avis est publié quelle que soit sa note. Ne rejetez que le spam "
                     "et les abus.",
    "status_all": "Tous", "status_published": "Publiés", "status_pending": "À vérifier",
    "status_rejected": "Rejetés",
    "reviews_count": "{count} avis",
    "reviews_empty_title": "Aucun avis ici pour l'instant",
    "reviews_empty_body": "Les avis arrivent quand les clients répondent aux demandes d'avis, "
                          "ou quand vous les importez (`parcours reviews import`).",
    "rating_of": "{rating} étoiles sur 5", "untitled": "(sans titre)", "anonymous": "Anonyme",
    "product": "produit", "verified": "achat vérifié", "incentive": "Contrepartie",
    "your_reply": "Votre réponse publique", "publish": "Publier", "reject": "Rejeter",
    "reject_reason": "Motif", "choose": "Choisir…", "reason_spam": "Spam",
    "reason_abuse": "Abus", "reason_personal_data": "Données personnelles",
    "reason_off_topic": "Hors sujet",
    "reply_label": "Réponse publique",
    "reply_hint": "Affichée sous l'avis. Videz-la pour la retirer.",
    "reply_save": "Enregistrer la réponse", "pages": "Pages",
    "previous_page": "Page précédente", "next_page": "Page suivante",
    "page_of": "Page {page} sur {pages}",
    "notice_published": "L'avis est publié.",
    "notice_rejected": "L'avis est rejeté et retiré de la boutique.",
    "notice_reason_required": "Choisissez pourquoi l'avis est rejeté : spam ou abus.",
    "notice_replied": "Votre réponse est enregistrée et publiée avec l'avis.",
    "notice_reply_removed": "Votre réponse est retirée.",
    "notice_reply_too_long": "La réponse n'a pas été enregistrée : 5 000 caractères au plus.",
    "settings_title": "Widgets et réglages", "widgets_legend": "Widgets de la boutique",
    "widgets_hint": "Activez ou désactivez chaque widget. Les changements arrivent sur la "
                    "boutique en moins de cinq minutes.",
    "widget_shipping_estimate": "Estimation de livraison",
    "widget_review_stars": "Étoiles des avis", "widget_review_list": "Liste des avis",
    "widget_express_pay": "Paiement express",
    "widget_guest_checkout": "Invitation à commander sans compte",
    "holdout": "Part témoin (%)", "holdout_of": "Part témoin de {widget}",
    "holdout_hint": "La part des clients, de 0 à 100 %, qui ne voient pas le widget, pour en "
                    "mesurer l'effet. 0 : tout le monde le voit.",
    "holdout_invalid": "une part de 0 à 100",
    "shipping_legend": "Livraison offerte",
    "free_from_of": "Livraison offerte dès, {zone}",
    "shipping_hint": "Le montant de commande ({currency}) à partir duquel la livraison est "
                     "offerte dans chaque zone. Vide : jamais offerte.",
    "shipping_platform": "Les tarifs de livraison viennent de {platform} : modifiez-les dans "
                         "son administration.",
    "shipping_none": "Aucune zone de livraison n'est définie pour cette boutique "
                     "(`parcours widgets set`).",
    "threshold_invalid": "un montant comme 60 ou 59,90",
    "free_rate_name": "Livraison offerte",
    "reviews_legend": "Demandes d'avis",
    "reviews_enabled": "Demander un avis aux acheteurs",
    "delay_days": "Jours après la livraison",
    "delay_hint": "De 0 à 60 jours après l'arrivée du colis.",
    "delay_invalid": "un nombre entier de jours de 0 à 60",
    "settings_invalid": "réglage non valide",
    "save": "Enregistrer", "errors_heading": "Il y a un problème",
    "notice_saved": "Réglages enregistrés.",
    "notice_saved_not_pushed": "Réglages enregistrés, mais la copie de la boutique n'a pas pu "
                               "encore être mise à jour : elle le sera au prochain changement.",
    "export_title": "Export", "export_kpis": "Chiffres clés de la période (CSV)",
    "export_funnel": "Entonnoir de la période (CSV)", "export_reviews": "Tous les avis (CSV)",
    "export_hint": "Les fichiers CSV s'ouvrent dans tout tableur. Le fichier des avis se "
                   "réimporte avec `parcours reviews import`.",
    "privacy_title": "Demandes RGPD",
    "privacy_intro": "Quand un client demande ce que vous détenez sur lui, exportez-le ; quand "
                     "il demande à être oublié, anonymisez-le. L'anonymisation est définitive ; "
                     "vos chiffres ne changent pas.",
    "privacy_kind": "Demande", "kind_export": "Exporter les données du client",
    "kind_redact": "Anonymiser le client (supprimer ses données personnelles)",
    "kind_data_request": "Export", "kind_redact_customer": "Anonymisation",
    "subject": "Client", "subject_hint": "Désignez le client par au moins un e-mail, un "
                                         "identifiant client ou des numéros de commande.",
    "customer_id": "Identifiant client", "phone": "Téléphone (facultatif)",
    "order_ids": "Numéros de commande (séparés par des virgules)",
    "confirm_redact": "Je comprends qu'une anonymisation est définitive",
    "privacy_submit": "Envoyer la demande", "privacy_history": "Demandes passées",
    "requested_at": "Date", "privacy_export": "Export",
    "download_json": "Télécharger (JSON)",
    "export_gone": "supprimé (anonymisation ou durée de conservation)",
    "privacy_empty": "Aucune demande pour l'instant.",
    "subject_invalid": "donnez un e-mail, un identifiant client ou des numéros de commande "
                       "valides",
    "kind_invalid": "choisissez l'export ou l'anonymisation",
    "confirm_required": "cochez pour confirmer l'anonymisation",
    "notice_exported": "L'export est prêt : téléchargez-le ci-dessous.",
    "notice_redacted": "Les données personnelles du client sont supprimées.",
    **{f"stage_{key}": value for key, value in _STAGES_FR.items()},
    **INSIGHTS_FR,
}

TEXT: dict[str, dict[str, str]] = {"en": _EN, "fr": _FR}
_MONTHS = {"en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                  "Dec"),
           "fr": ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.",
                  "oct.", "nov.", "déc.")}
NNBSP = "\u202f"  # French groups digits and sets off % with a narrow no-break space


def pick_language(choice: str | None, accepted: Iterable[str] = ()) -> str:
    """The first of `choice` and the browser's languages that is French or English."""
    for value in (choice, *accepted):
        tag = (value or "").strip().lower()[:2]
        if tag in LANGUAGES:
            return tag
    return "en"


class Formats:
    """Numbers, money, durations and days as the language writes them."""

    def __init__(self, language: str) -> None:
        self.language = language
        self.t = TEXT[language]

    def _group(self, text: str) -> str:
        whole, _, fraction = text.partition(".")
        sign = "-" if whole.startswith("-") else ""
        digits = whole.lstrip("-")
        groups: list[str] = []
        while len(digits) > 3:
            groups.insert(0, digits[-3:])
            digits = digits[:-3]
        groups.insert(0, digits)
        fr = self.language == "fr"
        joined = (NNBSP if fr else ",").join(groups)
        return sign + joined + ((("," if fr else ".") + fraction) if fraction else "")

    def number(self, value: Any, decimals: int = 0) -> str:
        if value is None:
            return "—"
        return self._group(f"{Decimal(str(value)):.{decimals}f}")

    def percent(self, ratio: Any, decimals: int = 1) -> str:
        if ratio is None:
            return "—"
        text = self.number(Decimal(str(ratio)) * 100, decimals)
        return f"{text}{NNBSP}%" if self.language == "fr" else f"{text}%"

    def money(self, amount: Any, currency: str | None) -> str:
        if amount is None:
            return "—"
        try:
            text = self.number(Decimal(str(amount)), 2)
        except InvalidOperation:
            return str(amount)
        return f"{text} {currency}" if currency else text

    def duration(self, seconds: Any) -> str:
        if seconds is None:
            return "—"
        minutes = int(seconds) // 60
        days, hours, mins = minutes // 1440, minutes % 1440 // 60, minutes % 60
        d = "j" if self.language == "fr" else "d"
        if 0 <= seconds < 60:
            return f"{round(seconds)} s"
        if days:
            return f"{days} {d} {hours} h"
        if hours:
            return f"{hours} h {mins} min"
        return f"{max(mins, 1) if seconds else 0} min"

    def points(self, difference: Any, decimals: int = 1, signed: bool = True) -> str:
        """A difference of two rates in percentage points, signed: "+8.0 pts", a minus sign
        below 0, none for 0."""
        if difference is None:
            return "—"
        value = Decimal(str(difference)) * 100
        text = self.t["points"].format(value=self.number(abs(value), decimals))
        if not signed or value.quantize(Decimal(1).scaleb(-decimals)) == 0:
            return text
        return ("+" if value > 0 else "\u2212") + text

    def signed_percent(self, ratio: Any, decimals: int = 1) -> str:
        """A relative change, signed ("+17.9%", a minus sign below 0)."""
        if ratio is None:
            return "—"
        value = Decimal(str(ratio))
        text = self.percent(abs(value), decimals)
        if (value * 100).quantize(Decimal(1).scaleb(-decimals)) == 0:
            return text
        return ("+" if value > 0 else "\u2212") + text

    def day(self, value: date | str) -> str:
        moment = date.fromisoformat(value) if isinstance(value, str) else value
        month = _MONTHS[self.language][moment.month - 1]
        return f"{moment.day} {month} {moment.year}"

    def moment(self, value: datetime | None) -> str:
        if value is None:
            return "—"
        return f"{self.day(value.date())} {value:%H:%M} UTC"

    def value(self, card: Mapping[str, Any]) -> str:
        kind, value = card["kind"], card["value"]
        if kind == "ratio":
            return self.percent(value)
        if kind == "money":
            return self.money(value, card.get("currency"))
        if kind == "duration":
            return self.duration(value)
        return self.number(value)

    def delta(self, card: Mapping[str, Any]) -> dict[str, str]:
        """The change from the period before: its words, an arrow, and whether it is good
        news ("good", "bad", "same"; the words say it too, colour is never alone)."""
        now, before = card["value"], card["previous"]
        if now is None or before is None:
            return {"text": self.t["delta_none"], "arrow": "", "tone": "same"}
        now_d, before_d = Decimal(str(now)), Decimal(str(before))
        diff = now_d - before_d
        if card["kind"] == "ratio":
            change = self.t["points"].format(value=self.number(abs(diff) * 100, 1))
            same = abs(diff) < Decimal("0.0005")
        elif before_d == 0:
            return {"text": self.t["delta_none"], "arrow": "", "tone": "same"}
        else:
            change = self.percent(abs(diff) / before_d, 0)
            same = abs(diff) / before_d < Decimal("0.005")
        if same:
            return {"text": self.t["delta_same"], "arrow": "=", "tone": "same"}
        up = diff > 0
        good = up == (card["better"] == "up")
        return {"text": self.t["delta_up" if up else "delta_down"].format(change=change),
                "arrow": "▲" if up else "▼", "tone": "good" if good else "bad"}
