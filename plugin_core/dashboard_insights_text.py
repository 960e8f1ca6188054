"""The words of the dashboard's insight pages (journeys, dropped shoppers, profiles, friction,
experiments), in English and French; dashboard_text.py merges them into `TEXT`.

Apart from dashboard_text.py only to keep each module readable: the same rules hold (pure,
`str.format` fields, both languages with the same keys and fields, escaped by the templates).
"""

from __future__ import annotations

__all__ = ["INSIGHTS_EN", "INSIGHTS_FR"]

_STEPS_EN = {"product": "Product viewed", "cart": "Added to cart", "checkout": "Checkout started",
             "contact": "Contact details", "address": "Address", "shipping": "Shipping method",
             "payment": "Payment details", "paid": "Paid", "received": "Received",
             "reviewed": "Reviewed", "repeat": "Repeat purchase"}
_STEPS_FR = {"product": "Produit consulté", "cart": "Ajout au panier",
             "checkout": "Commande commencée", "contact": "Coordonnées", "address": "Adresse",
             "shipping": "Mode de livraison", "payment": "Paiement saisi", "paid": "Payé",
             "received": "Reçu", "reviewed": "Évalué", "repeat": "Nouvel achat"}
# A step inside a sentence ("shoppers who reach ...").
_STEP_NOUNS_EN = {"product": "a product page", "cart": "the cart", "checkout": "checkout",
                  "contact": "the contact step", "address": "the address step",
                  "shipping": "the shipping step", "payment": "the payment step",
                  "paid": "payment", "received": "delivery", "reviewed": "a review"}
_STEP_NOUNS_FR = {"product": "une page produit", "cart": "le panier",
                  "checkout": "la commande", "contact": "l'étape contact",
                  "address": "l'étape adresse", "shipping": "l'étape livraison",
                  "payment": "l'étape paiement", "paid": "le paiement",
                  "received": "la livraison", "reviewed": "un avis"}
_VALUES_EN = {"mobile": "Mobile", "desktop": "Desktop", "tablet": "Tablet", "new": "New",
              "returning": "Returning", "direct": "Direct", "organic_search": "Search engines",
              "paid_search": "Search ads", "social": "Social networks", "email": "Email",
              "referral": "Other sites", "paid_other": "Other paid campaigns",
              "unknown": "Not known"}
_VALUES_FR = {"mobile": "Mobile", "desktop": "Ordinateur", "tablet": "Tablette",
              "new": "Nouveaux", "returning": "Déjà clients", "direct": "Accès direct",
              "organic_search": "Moteurs de recherche", "paid_search": "Annonces de recherche",
              "social": "Réseaux sociaux", "email": "E-mail", "referral": "Autres sites",
              "paid_other": "Autres campagnes payantes", "unknown": "Inconnu"}
_EVENTS_EN = {
    "page_viewed": "Viewed a page", "search_submitted": "Searched",
    "collection_viewed": "Viewed a collection", "product_viewed": "Viewed a product",
    "product_added_to_cart": "Added to cart", "product_removed_from_cart": "Removed from cart",
    "cart_viewed": "Viewed the cart", "checkout_started": "Started checkout",
    "checkout_contact_info_submitted": "Gave contact details",
    "checkout_address_info_submitted": "Gave an address",
    "checkout_shipping_info_submitted": "Chose a shipping method",
    "payment_info_submitted": "Gave payment details", "checkout_completed": "Completed checkout",
    "widget_shown": "A widget's place was shown", "widget_engaged": "Used a widget",
    "shipping_estimate_requested": "Asked for a shipping estimate",
    "customer_created": "Account created", "cart_updated": "Cart updated",
    "checkout_updated": "Checkout updated", "order_placed": "Order placed",
    "order_paid": "Order paid", "payment_failed": "Payment failed",
    "order_fulfilled": "Order shipped", "order_delivered": "Order delivered",
    "order_cancelled": "Order cancelled", "order_refunded": "Order refunded",
    "review_requested": "Review requested", "review_submitted": "Review written",
    "review_opened": "Opened the review form"}
_EVENTS_FR = {
    "page_viewed": "A vu une page", "search_submitted": "A cherché",
    "collection_viewed": "A vu une collection", "product_viewed": "A vu un produit",
    "product_added_to_cart": "A ajouté au panier",
    "product_removed_from_cart": "A retiré du panier", "cart_viewed": "A vu le panier",
    "checkout_started": "A commencé la commande",
    "checkout_contact_info_submitted": "A donné ses coordonnées",
    "checkout_address_info_submitted": "A donné une adresse",
    "checkout_shipping_info_submitted": "A choisi la livraison",
    "payment_info_submitted": "A saisi le paiement",
    "checkout_completed": "A terminé la commande",
    "widget_shown": "Emplacement d'un widget affiché", "widget_engaged": "A utilisé un widget",
    "shipping_estimate_requested": "A demandé une estimation de livraison",
    "customer_created": "Compte créé", "cart_updated": "Panier modifié",
    "checkout_updated": "Commande modifiée", "order_placed": "Commande passée",
    "order_paid": "Commande payée", "payment_failed": "Paiement refusé",
    "order_fulfilled": "Commande expédiée", "order_delivered": "Commande livrée",
    "order_cancelled": "Commande annulée", "order_refunded": "Commande remboursée",
    "review_requested": "Avis demandé", "review_submitted": "Avis rédigé",
    "review_opened": "A ouvert le formulaire d'avis"}

INSIGHTS_EN: dict[str, str] = {
    "nav_journeys": "Journeys", "nav_dropped": "Dropped shoppers", "nav_friction": "Friction",
    "nav_experiments": "Experiments",
    # journeys
    "journeys_title": "Journeys", "segment_label": "Shoppers", "segment_all": "All journeys",
    "segment_apply": "Filter", "segment_option": "{dimension}: {value}",
    "segment_shown": "Only the journeys with {segment}.",
    "segment_invalid": "This filter is not one of the list: all journeys are shown. Choose a "
                       "filter from the list.",
    "segment_none": "No journey of this segment opened in the period.",
    "steps_chart_title": "Journeys reaching each step",
    "steps_table": "Journeys, conversion and drop-off per step", "step": "Step",
    "from_step_before": "From the step before",
    "country_hint": "A journey's country is its order's delivery address: journeys without "
                    "an order have none (not known).",
    "steps_hint": "Steps your storefront does not report are left out (not tracked), never "
                  "counted as a loss.",
    "steps_repeat": "Repeat purchase: paid journeys that were the shopper's second purchase or "
                    "later, as a share of paid journeys (for all journeys only).",
    "share_of_paid": "{share} of paid",
    "breakdown_title": "Journeys by segment",
    "breakdown_caption": "By {dimension}", "segment_value": "Segment",
    "share_of_journeys": "Share of journeys", "conversion": "Conversion",
    "breakdown_hint": "Open a segment to see its own step funnel.",
    "breakdown_empty": "No journey of the period has this information yet.",
    "dim_returning": "New or returning", "dim_device": "Device", "dim_channel": "Channel",
    "dim_country": "Country",
    "stage_times_title": "Time in each stage",
    "stage_times_hint": "Median time from reaching a stage to reaching the next one, over all "
                        "the journeys of the period. A journey's last stage is not timed: it "
                        "is still there, or left from it.",
    "stage_times_chart": "Median time in each stage", "median_time": "Median time",
    "journeys_timed": "Journeys timed",
    # dropped shoppers and profiles
    "dropped_title": "Dropped shoppers",
    "dropped_intro": "Shoppers whose journey opened in the period, reached the step, went no "
                     "further, did not buy, and have been inactive for at least 24 hours: the "
                     "ones to follow up. Newest activity first.",
    "dropped_step": "Stopped after", "dropped_show": "Show",
    "dropped_caption": "Shoppers who stopped after: {step}",
    "dropped_empty": "No shopper stopped after this step in the period.",
    "last_activity": "Last activity", "journey_opened": "Journey opened",
    "stage_reached": "Stage reached", "timeline": "Timeline",
    "first_page": "First page",
    "step_invalid": "This step is not one of the list: choose one.",
    "cursor_invalid": "This page link is damaged or out of date: the first page is shown.",
    "profile_title": "Shopper {id}", "profile_known_by": "Known by",
    "profile_stage": "Stage now", "profile_journeys": "Journeys, newest first",
    "profile_journey": "Journey", "journey_status": "Status",
    "status_open": "Open", "status_converted": "Bought", "status_abandoned": "Abandoned",
    "profile_path": "Stages reached", "profile_events": "Events, newest first",
    "profile_events_hint": "The {count} most recent events at most. Contact details are not "
                           "shown here.",
    "event": "Event", "when": "When", "source": "Source", "details": "Details",
    "back_to_dropped": "Back to the dropped shoppers", "profile_none": "None yet.",
    "ident_customer_id": "customer account", "ident_email_hash": "email",
    "ident_checkout_token": "checkout", "ident_cart_token": "cart",
    "ident_anonymous_id": "browser", "ident_order_id": "order",
    # friction
    "friction_title": "Friction",
    "friction_intro": "Rules read the period's funnel and your settings and name what makes "
                      "shoppers leave, with the numbers behind it and a fix. A rule speaks only "
                      "on a clear signal (95% confidence).",
    "severity": "Severity: {severity}", "severity_high": "high", "severity_medium": "medium",
    "severity_low": "low",
    "friction_evidence": "What the numbers show", "friction_fix": "The fix",
    "friction_sources": "Why it matters",
    "fix_apply_widget": "Turn on: {widget}", "fix_apply_reviews": "Turn on review requests",
    "fix_apply_setting": "Apply this fix", "fix_apply_guest_checkout": "Allow guest checkout",
    "fix_apply_express_pay": "Turn on the express pay buttons",
    "fix_apply_hint": "One click: the same change as in Widgets and settings.",
    "fix_where": "Change it in {where}.",
    "fix_where_or": "Or change it yourself in {where}.",
    "fix_elsewhere": "Parcours cannot change this for you on this platform.",
    "where_customer_accounts": "Shopify admin \u203a Settings \u203a Customer accounts",
    "where_payments": "Shopify admin \u203a Settings \u203a Payments",
    "where_woocommerce_enable_guest_checkout": "WooCommerce \u203a Settings \u203a Accounts "
                                               "& Privacy \u203a Guest checkout",
    "where_payment_gateways": "WooCommerce \u203a Settings \u203a Payments",
    "where_guest_checkout": "your shop's checkout settings (guest checkout)",
    "where_wallets": "your shop's payment settings (express wallets)",
    "notice_widget_enabled": "The widget is on; the storefront has it within five minutes. Its "
                             "effect shows here as new journeys come in.",
    "notice_reviews_enabled": "Review requests are on: buyers are asked a few days after "
                              "delivery.",
    "notice_fix_refused": "This fix cannot be applied in one click: change it where the "
                          "finding says.",
    "notice_setting_changed": "Done: the store's setting is changed (and put back if you "
                              "uninstall Parcours).",
    "notice_fix_failed": "The store could not be reached: nothing was changed. Try again in a "
                         "few minutes.",
    "friction_none": "No friction found among the rules that could judge this period.",
    "friction_none_all": "Every rule could judge this period's numbers, and none found a "
                         "friction.",
    "friction_found": "{count} frictions found, most severe first.",
    "friction_found_one": "One friction found.",
    "unknown_title": "Rules that cannot judge yet",
    "unknown_intro": "These rules lack data for this period: they say nothing, either way, "
                     "until they have it.",
    "unknown_lacks": "What it lacks:",
    "rule_shipping_estimate": "Shipping cost shown before checkout",
    "rule_guest_checkout": "Account required at checkout",
    "rule_guest_checkout_prompt": "Guest checkout prompt",
    "rule_express_pay": "Express pay buttons on mobile",
    "rule_express_pay_wallets": "Express wallets on mobile",
    "rule_review_requests": "Review requests after delivery",
    "obs_context": "For context: {text}",
    "obs_drop": "{drop} of the {reached} journeys that reached {start} did not reach {end}.",
    "obs_drop_on": "On {device}, {drop} of the {reached} journeys that reached {start} did not "
                   "reach {end}.",
    "obs_drop_least": "At least {low} with 95% confidence; the rule looks for {threshold} or "
                      "more.",
    "obs_drop_most": "At most {high} with 95% confidence; the rule looks for {threshold} or "
                     "less.",
    "obs_gap": "{device_drop} of {device} shoppers who reach {start} leave before {end}, "
               "against {baseline_drop} on {baseline} ({device_reached} and {baseline_reached} "
               "journeys).",
    "obs_gap_bound": "The gap is at least {gap_low} with 95% confidence; the rule looks for "
                     "{min_gap} or more.",
    "obs_journeys": "{journeys} journeys reached {step}.",
    "obs_too_few_drop": "Only {reached} journeys reached {start}: {needed} are needed to judge.",
    "obs_too_few_gap": "Only {device_reached} {device} and {baseline_reached} {baseline} "
                       "journeys reached {start}: {needed} of each are needed to judge.",
    "obs_too_few_journeys": "Only {journeys} journeys reached {step}: {needed} are needed to "
                            "judge.",
    "obs_not_tracked": "Your storefront does not report {step}, so this cannot be measured.",
    "obs_inconsistent": "More journeys reached {end} than {start}: the earlier step is "
                        "under-reported, so its drop cannot be measured.",
    "obs_widget_on": "{widget} is on.", "obs_widget_off": "{widget} is off.",
    "obs_widget_missing": "The setting of {widget} is not known.",
    "obs_fact": "{subject}: {value}.", "obs_fact_missing": "{subject}: not known yet.",
    "obs_login_true": "Shoppers must log in to check out.",
    "obs_login_false": "Guest checkout is allowed.",
    "obs_login_missing": "Whether shoppers must log in to check out is not known yet: the "
                         "store has not said.",
    "obs_wallets": "Express wallets offered: {wallets}.",
    "obs_wallets_none": "The store offers no express wallet.",
    "obs_wallets_missing": "Which express wallets the store offers is not known yet.",
    "obs_supported_true": "A payment gateway that can show express buttons is installed.",
    "obs_supported_false": "No installed payment gateway can show express buttons.",
    "obs_supported_missing": "Whether a gateway can show express buttons is not known yet.",
    "obs_reviews_true": "Parcours' review requests are on.",
    "obs_reviews_false": "Parcours' review requests are off.",
    "obs_reviews_missing": "Parcours' review requests follow the default (on).",
    "obs_platform_reviews_true": "The platform asks buyers for reviews itself.",
    "obs_platform_reviews_false": "The platform does not ask buyers for reviews.",
    "obs_platform_reviews_missing": "The platform does not ask buyers for reviews (no such "
                                    "setting).",
    "yes": "yes", "no": "no",
    # experiments
    "experiments_title": "Experiments",
    "experiments_intro": "A widget with a holdout share runs an experiment: some shoppers do "
                         "not see it, and their conversion is compared with the others'. "
                         "Shoppers count in the period of their first exposure.",
    "experiments_empty_title": "No widget experiment in this period",
    "experiments_empty_body": "Give a widget a holdout share in Widgets and settings to "
                              "measure what it changes.",
    "experiment_name": "Experiment “{name}”", "running": "Running", "ended": "Ended",
    "holdout_text": "{share} of shoppers do not see the widget (the holdout).",
    "arms_caption": "Shoppers and conversion of each group",
    "arm": "Group", "arm_exposed": "Saw the widget", "arm_holdout": "Holdout (did not see it)",
    "shoppers": "Shoppers", "buyers": "Buyers",
    "uplift": "Difference", "uplift_relative": "Relative change",
    "uplift_interval": "95% interval", "p_value": "p-value", "range": "{low} to {high}",
    "uplift_text": "{absolute} ({relative}) for the shoppers who saw the widget; 95% interval "
                   "{low} to {high}.",
    "uplift_none": "No difference can be computed yet: an arm has no shopper.",
    "interval_title": "Difference in conversion, {low} to {high} (95% interval); 0 means no "
                      "effect",
    "state_planning": "{count} more holdout shoppers before a plan. Until then the figures are "
                      "provisional and no verdict is given.",
    "state_collecting": "Not significant yet: no verdict before the planned sample, whatever "
                        "the p-value.",
    "progress_text": "{progress} of the planned sample: {holdout} holdout and {exposed} exposed "
                     "shoppers.",
    "progress_title": "Progress toward the planned sample: {progress}",
    "state_significant_up": "Significant: the widget raises conversion.",
    "state_significant_down": "Significant: the widget lowers conversion.",
    "state_no_difference": "No difference detected: an uplift of {effect} would have been found "
                           "4 times in 5.",
    "plan_text": "Plan: conversion without the widget {baseline}; smallest uplift worth "
                 "detecting {effect}; 5% risk of a false alarm; 80% power.",
    "horizon_link": "Why the verdict waits",
    "horizon_title": "Why the verdict waits",
    "horizon_body": "A p-value keeps its meaning only when the number of shoppers is fixed "
                    "before looking. Declaring a winner the first time p dips under 5% would "
                    "crown a widget with no effect about one time in five after ten looks. So "
                    "each experiment is planned (from its holdout's first 200 shoppers, for an "
                    "uplift of 10%), and no verdict is given before its planned sample: a small "
                    "sample that looks significant is still \"not significant yet\". To ask a "
                    "new question, start a new experiment (a new salt). The statistics are in "
                    "docs/experiments.md.",
}

INSIGHTS_FR: dict[str, str] = {
    "nav_journeys": "Parcours clients", "nav_dropped": "Clients partis",
    "nav_friction": "Points de friction", "nav_experiments": "Expériences",
    "journeys_title": "Parcours clients", "segment_label": "Clients",
    "segment_all": "Tous les parcours", "segment_apply": "Filtrer",
    "segment_option": "{dimension} : {value}",
    "segment_shown": "Seulement les parcours avec {segment}.",
    "segment_invalid": "Ce filtre ne fait pas partie de la liste : tous les parcours sont "
                       "affichés. Choisissez un filtre dans la liste.",
    "segment_none": "Aucun parcours de ce segment n'a commencé sur la période.",
    "steps_chart_title": "Parcours atteignant chaque étape",
    "steps_table": "Parcours, conversion et pertes par étape", "step": "Étape",
    "from_step_before": "Depuis l'étape précédente",
    "country_hint": "Le pays d'un parcours est l'adresse de livraison de sa commande : les "
                    "parcours sans commande n'en ont pas (inconnu).",
    "steps_hint": "Les étapes que votre boutique ne signale pas sont omises (non suivies), "
                  "jamais comptées comme des pertes.",
    "steps_repeat": "Nouvel achat : parcours payés qui étaient le deuxième achat du client ou "
                    "plus, en part des parcours payés (pour tous les parcours seulement).",
    "share_of_paid": "{share} des payés",
    "breakdown_title": "Parcours par segment",
    "breakdown_caption": "Par {dimension}", "segment_value": "Segment",
    "share_of_journeys": "Part des parcours", "conversion": "Conversion",
    "breakdown_hint": "Ouvrez un segment pour voir son propre entonnoir.",
    "breakdown_empty": "Aucun parcours de la période n'a encore cette information.",
    "dim_returning": "Nouveaux ou déjà clients", "dim_device": "Appareil",
    "dim_channel": "Canal", "dim_country": "Pays",
    "stage_times_title": "Temps passé à chaque étape",
    "stage_times_hint": "Temps médian entre l'arrivée à une étape et l'arrivée à la suivante, "
                        "sur tous les parcours de la période. La dernière étape d'un parcours "
                        "n'est pas mesurée : le client y est encore, ou en est parti.",
    "stage_times_chart": "Temps médian à chaque étape", "median_time": "Temps médian",
    "journeys_timed": "Parcours mesurés",
    "dropped_title": "Clients partis",
    "dropped_intro": "Les clients dont le parcours a commencé sur la période, a atteint "
                     "l'étape sans aller plus loin, sans achat, et inactifs depuis au moins "
                     "24 heures : ceux à relancer. Activité la plus récente d'abord.",
    "dropped_step": "Arrêtés après", "dropped_show": "Afficher",
    "dropped_caption": "Clients arrêtés après : {step}",
    "dropped_empty": "Aucun client ne s'est arrêté après cette étape sur la période.",
    "last_activity": "Dernière activité", "journey_opened": "Début du parcours",
    "stage_reached": "Étape atteinte", "timeline": "Historique",
    "first_page": "Première page",
    "step_invalid": "Cette étape ne fait pas partie de la liste : choisissez-en une.",
    "cursor_invalid": "Ce lien de page est abîmé ou périmé : la première page est affichée.",
    "profile_title": "Client {id}", "profile_known_by": "Connu par",
    "profile_stage": "Étape actuelle", "profile_journeys": "Parcours, du plus récent au plus "
                                                           "ancien",
    "profile_journey": "Parcours", "journey_status": "État",
    "status_open": "En cours", "status_converted": "Achat", "status_abandoned": "Abandonné",
    "profile_path": "Étapes atteintes",
    "profile_events": "Événements, du plus récent au plus ancien",
    "profile_events_hint": "Les {count} événements les plus récents au plus. Les coordonnées "
                           "ne sont pas affichées ici.",
    "event": "Événement", "when": "Quand", "source": "Source", "details": "Détails",
    "back_to_dropped": "Retour aux clients partis", "profile_none": "Aucun pour l'instant.",
    "ident_customer_id": "compte client", "ident_email_hash": "e-mail",
    "ident_checkout_token": "commande", "ident_cart_token": "panier",
    "ident_anonymous_id": "navigateur", "ident_order_id": "numéro de commande",
    "friction_title": "Points de friction",
    "friction_intro": "Des règles lisent l'entonnoir de la période et vos réglages, et nomment "
                      "ce qui fait partir les clients, avec les chiffres et une solution. Une "
                      "règle ne parle que sur un signal net (confiance de 95 %).",
    "severity": "Gravité : {severity}", "severity_high": "forte",
    "severity_medium": "moyenne", "severity_low": "faible",
    "friction_evidence": "Ce que montrent les chiffres", "friction_fix": "La solution",
    "friction_sources": "Pourquoi c'est important",
    "fix_apply_widget": "Activer : {widget}",
    "fix_apply_reviews": "Activer les demandes d'avis",
    "fix_apply_setting": "Appliquer cette solution",
    "fix_apply_guest_checkout": "Autoriser la commande sans compte",
    "fix_apply_express_pay": "Activer les boutons de paiement express",
    "fix_apply_hint": "En un clic : le même changement que dans Widgets et réglages.",
    "fix_where": "Modifiez-le dans {where}.",
    "fix_where_or": "Ou modifiez-le vous-même dans {where}.",
    "fix_elsewhere": "Parcours ne peut pas le modifier pour vous sur cette plateforme.",
    "where_customer_accounts": "l'administration Shopify \u203a Paramètres \u203a Comptes clients",
    "where_payments": "l'administration Shopify \u203a Paramètres \u203a Paiements",
    "where_woocommerce_enable_guest_checkout": "WooCommerce \u203a Réglages \u203a Comptes et "
                                               "confidentialité \u203a Commande invité",
    "where_payment_gateways": "WooCommerce \u203a Réglages \u203a Paiements",
    "where_guest_checkout": "les réglages de commande de votre boutique (commande sans "
                            "compte)",
    "where_wallets": "les réglages de paiement de votre boutique (paiements express)",
    "notice_widget_enabled": "Le widget est activé ; la boutique l'affiche en moins de cinq "
                             "minutes. Son effet apparaîtra ici avec les nouveaux parcours.",
    "notice_reviews_enabled": "Les demandes d'avis sont activées : les acheteurs sont "
                              "sollicités quelques jours après la livraison.",
    "notice_fix_refused": "Cette solution ne s'applique pas en un clic : modifiez-la là où "
                          "le constat l'indique.",
    "notice_setting_changed": "C'est fait : le réglage de la boutique est modifié (et rétabli "
                              "si vous désinstallez Parcours).",
    "notice_fix_failed": "La boutique n'a pas pu être jointe : rien n'a été modifié. Réessayez "
                         "dans quelques minutes.",
    "friction_none": "Aucune friction trouvée par les règles qui ont pu juger cette période.",
    "friction_none_all": "Toutes les règles ont pu juger les chiffres de la période, et aucune "
                         "n'a trouvé de friction.",
    "friction_found": "{count} frictions trouvées, de la plus grave à la moins grave.",
    "friction_found_one": "Une friction trouvée.",
    "unknown_title": "Règles qui ne peuvent pas encore juger",
    "unknown_intro": "Il manque des données à ces règles pour cette période : elles ne disent "
                     "rien, dans un sens ou dans l'autre, tant qu'elles ne les ont pas.",
    "unknown_lacks": "Ce qui manque :",
    "rule_shipping_estimate": "Frais de livraison affichés avant la commande",
    "rule_guest_checkout": "Compte obligatoire pour commander",
    "rule_guest_checkout_prompt": "Message de commande sans compte",
    "rule_express_pay": "Boutons de paiement express sur mobile",
    "rule_express_pay_wallets": "Paiements express sur mobile",
    "rule_review_requests": "Demandes d'avis après la livraison",
    "obs_context": "Pour situer : {text}",
    "obs_drop": "{drop} des {reached} parcours qui ont atteint {start} n'ont pas atteint {end}.",
    "obs_drop_on": "Sur {device}, {drop} des {reached} parcours qui ont atteint {start} n'ont "
                   "pas atteint {end}.",
    "obs_drop_least": "Au moins {low} avec une confiance de 95 % ; la règle cherche {threshold} "
                      "ou plus.",
    "obs_drop_most": "Au plus {high} avec une confiance de 95 % ; la règle cherche {threshold} "
                     "ou moins.",
    "obs_gap": "{device_drop} des clients sur {device} qui atteignent {start} partent avant "
               "{end}, contre {baseline_drop} sur {baseline} ({device_reached} et "
               "{baseline_reached} parcours).",
    "obs_gap_bound": "L'écart est d'au moins {gap_low} avec une confiance de 95 % ; la règle "
                     "cherche {min_gap} ou plus.",
    "obs_journeys": "{journeys} parcours ont atteint {step}.",
    "obs_too_few_drop": "Seulement {reached} parcours ont atteint {start} : il en faut "
                        "{needed} pour juger.",
    "obs_too_few_gap": "Seulement {device_reached} parcours sur {device} et {baseline_reached} "
                       "sur {baseline} ont atteint {start} : il en faut {needed} de chaque "
                       "pour juger.",
    "obs_too_few_journeys": "Seulement {journeys} parcours ont atteint {step} : il en faut "
                            "{needed} pour juger.",
    "obs_not_tracked": "Votre boutique ne signale pas {step} : impossible de le mesurer.",
    "obs_inconsistent": "Plus de parcours ont atteint {end} que {start} : l'étape précédente "
                        "est sous-déclarée, sa perte ne peut pas être mesurée.",
    "obs_widget_on": "Le widget {widget} est activé.",
    "obs_widget_off": "Le widget {widget} est désactivé.",
    "obs_widget_missing": "Le réglage du widget {widget} n'est pas connu.",
    "obs_fact": "{subject} : {value}.", "obs_fact_missing": "{subject} : pas encore connu.",
    "obs_login_true": "Les clients doivent se connecter pour commander.",
    "obs_login_false": "La commande sans compte est possible.",
    "obs_login_missing": "On ne sait pas encore si les clients doivent se connecter pour "
                         "commander : la boutique ne l'a pas dit.",
    "obs_wallets": "Paiements express proposés : {wallets}.",
    "obs_wallets_none": "La boutique ne propose aucun paiement express.",
    "obs_wallets_missing": "On ne sait pas encore quels paiements express la boutique propose.",
    "obs_supported_true": "Un module de paiement capable d'afficher les boutons express est "
                          "installé.",
    "obs_supported_false": "Aucun module de paiement installé ne peut afficher les boutons "
                           "express.",
    "obs_supported_missing": "On ne sait pas encore si un module de paiement peut afficher les "
                             "boutons express.",
    "obs_reviews_true": "Les demandes d'avis de Parcours sont activées.",
    "obs_reviews_false": "Les demandes d'avis de Parcours sont désactivées.",
    "obs_reviews_missing": "Les demandes d'avis de Parcours suivent le réglage par défaut "
                           "(activées).",
    "obs_platform_reviews_true": "La plateforme demande elle-même un avis aux acheteurs.",
    "obs_platform_reviews_false": "La plateforme ne demande pas d'avis aux acheteurs.",
    "obs_platform_reviews_missing": "La plateforme ne demande pas d'avis aux acheteurs (aucun "
                                    "réglage de ce type).",
    "yes": "oui", "no": "non",
    "experiments_title": "Expériences",
    "experiments_intro": "Un widget avec une part témoin mène une expérience : certains clients "
                         "ne le voient pas, et leur conversion est comparée à celle des autres. "
                         "Les clients comptent dans la période de leur première exposition.",
    "experiments_empty_title": "Aucune expérience de widget sur cette période",
    "experiments_empty_body": "Donnez une part témoin à un widget dans Widgets et réglages pour "
                              "mesurer ce qu'il change.",
    "experiment_name": "Expérience « {name} »", "running": "En cours", "ended": "Terminée",
    "holdout_text": "{share} des clients ne voient pas le widget (le groupe témoin).",
    "arms_caption": "Clients et conversion de chaque groupe",
    "arm": "Groupe", "arm_exposed": "Ont vu le widget",
    "arm_holdout": "Témoin (ne l'ont pas vu)", "shoppers": "Clients", "buyers": "Acheteurs",
    "uplift": "Écart", "uplift_relative": "Variation relative",
    "uplift_interval": "Intervalle à 95 %", "p_value": "Valeur p",
    "range": "de {low} à {high}",
    "uplift_text": "{absolute} ({relative}) pour les clients qui ont vu le widget ; intervalle "
                   "à 95 % de {low} à {high}.",
    "uplift_none": "Aucun écart calculable pour l'instant : un groupe n'a aucun client.",
    "interval_title": "Écart de conversion, de {low} à {high} (intervalle à 95 %) ; 0 signifie "
                      "aucun effet",
    "state_planning": "Encore {count} clients témoins avant un plan. D'ici là, les chiffres "
                      "sont provisoires et aucun verdict n'est donné.",
    "state_collecting": "Pas encore significatif : aucun verdict avant l'échantillon prévu, "
                        "quelle que soit la valeur p.",
    "progress_text": "{progress} de l'échantillon prévu : {holdout} clients témoins et "
                     "{exposed} exposés.",
    "progress_title": "Avancement vers l'échantillon prévu : {progress}",
    "state_significant_up": "Significatif : le widget augmente la conversion.",
    "state_significant_down": "Significatif : le widget diminue la conversion.",
    "state_no_difference": "Aucune différence détectée : une hausse de {effect} aurait été "
                           "trouvée 4 fois sur 5.",
    "plan_text": "Plan : conversion sans le widget {baseline} ; plus petite hausse utile à "
                 "détecter {effect} ; risque de fausse alerte 5 % ; puissance 80 %.",
    "horizon_link": "Pourquoi le verdict attend",
    "horizon_title": "Pourquoi le verdict attend",
    "horizon_body": "Une valeur p ne garde son sens que si le nombre de clients est fixé avant "
                    "de regarder. Déclarer un gagnant dès que p passe sous 5 % couronnerait un "
                    "widget sans effet environ une fois sur cinq après dix regards. Chaque "
                    "expérience est donc planifiée (d'après les 200 premiers clients de son "
                    "groupe témoin, pour une hausse de 10 %), et aucun verdict n'est donné "
                    "avant l'échantillon prévu : un petit échantillon qui semble significatif "
                    "reste « pas encore significatif ». Pour une nouvelle question, lancez une "
                    "nouvelle expérience (un nouveau sel). Les statistiques sont dans "
                    "docs/experiments.md.",
}

for _words, _steps, _nouns, _values, _events in (
        (INSIGHTS_EN, _STEPS_EN, _STEP_NOUNS_EN, _VALUES_EN, _EVENTS_EN),
        (INSIGHTS_FR, _STEPS_FR, _STEP_NOUNS_FR, _VALUES_FR, _EVENTS_FR)):
    _words.update({f"step_{key}": value for key, value in _steps.items()})
    _words.update({f"stepn_{key}": value for key, value in _nouns.items()})
    _words.update({f"segv_{key}": value for key, value in _values.items()})
    _words.update({f"ev_{key}": value for key, value in _events.items()})
