"""The words of the hosted review pages (the email's form, the storefront's, unsubscribe), in
English and French (pure).

The pages speak the shopper's language: the order's locale when it starts with "fr", else the
store's default; `?lang=` overrides both (a shopper reading someone else's language). Pages
shown before any request is known (a forged link) follow the browser's Accept-Language.
Messages take `str.format` fields; everything is escaped by the templates, never here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = ["LANGUAGES", "TEXT", "pick_language"]

LANGUAGES = ("en", "fr")

_EN: dict[str, str] = {
    "form_title": "Review your order",
    "other_language": "Français",
    "hello": "Hello {name}, how were the products you ordered from {store}?",
    "hello_anon": "How were the products you ordered from {store}?",
    "how": "Rate only the products you want to. For each, only the stars are needed.",
    "publish_note": "Your reviews are published on {store}'s site with the name you choose "
                    "below, whatever their rating.",
    "incentive": "As a thank you: {incentive}. You get it whatever your rating, and it is "
                 "shown with your review.",
    "product": "Product",
    "rating_legend": "Your rating for {product}",
    "scale_stars": "1 star: very poor, 5 stars: excellent.",
    "star_1": "1 star", "star_2": "2 stars", "star_3": "3 stars", "star_4": "4 stars",
    "star_5": "5 stars",
    "out_of": "out of 5",
    "review_title": "Title (optional)",
    "review_body": "Your review (optional)",
    "photo": "A photo (optional)",
    "photo_hint": "JPEG, PNG or WebP, up to 5 MB. Its location and camera data are removed.",
    "photo_again": "Your photo could not be kept while the form had errors: choose it again.",
    "survey": "Two quick questions (optional)",
    "ces_legend": "How easy was buying?",
    "ces_scale": "1: very difficult, 7: very easy.",
    "nps_legend": "Would you recommend us?",
    "nps_scale": "0: not at all likely, 10: extremely likely.",
    "author": "Name shown with your reviews",
    "author_hint": "Leave it empty to stay anonymous.",
    "honeypot": "Leave this field empty",
    "submit": "Send my review",
    "errors_heading": "There is a problem",
    "error_in": "{field}: {message}",
    "nothing_title": "Nothing to review",
    "nothing_body": "This order has no product to review.",
    "thanks_title": "Thank you!",
    "thanks_body": "Your review was sent to {store}.",
    "thanks_list": "What you sent",
    "used_title": "This link was already used",
    "used_body": "A review was already sent with it: each link works once. Thank you!",
    "unavailable_title": "This link no longer works",
    "unavailable_body": "This review request was withdrawn by the shop.",
    "expired_title": "This link has expired",
    "expired_body": "Review links work for {days} days after the email was sent.",
    "forged_title": "This link is not valid",
    "forged_body": "Check that you opened the whole link from the email.",
    "csrf_title": "Your review could not be sent",
    "csrf_body": "For your security, the form must be sent from the page the link opens, with "
                 "cookies allowed. Open the form again, then send it.",
    "csrf_again": "Open the form again",
    "rate_title": "Too many attempts",
    "rate_body": "Please wait a few minutes, then try again.",
    "too_large_title": "Your photos are too large",
    "too_large_body": "Altogether they may not exceed {megabytes} MB. Go back and choose "
                      "smaller ones.",
    "error_title": "Something went wrong",
    "error_body": "Please try again in a moment.",
    "unsubscribe_title": "Stop review requests?",
    "unsubscribe_body": "You will no longer receive emails from {store} asking for your review.",
    "unsubscribe_button": "Unsubscribe",
    "unsubscribed_title": "You are unsubscribed",
    "unsubscribed_body": "You will not receive review requests from {store} any more.",
    "unsubscribe_forged_title": "This unsubscribe link is not valid",
    "unsubscribe_forged_body": "Check that you opened the whole link from the email.",
    # The storefront's page: anyone may review a product there (review_storefront.py).
    "storefront_title": "Review this product",
    "storefront_title_named": "Review {product}",
    "this_product": "this product",
    "storefront_how": "Only the stars and your name are needed.",
    "storefront_author": "Your name, shown with your review",
    "storefront_author_hint": "A first name or a nickname is enough.",
    "storefront_note": "Your review is published on {store}'s site with your name, whatever its "
                       "rating. It is not marked as from a verified buyer.",
    "back": "Back to {store}",
    # Error messages, next to their field.
    "rating_range": "Choose from 1 to 5 stars.",
    "rating_needed": "Choose a rating to review this product, or empty its other fields.",
    "rating_one": "Rate at least one product.",
    "rating_missing": "Choose from 1 to 5 stars.",
    "author_needed": "Write the name to show with your review.",
    "title_long": "Write at most 200 characters.",
    "body_long": "Write at most 5000 characters.",
    "author_long": "Write at most 100 characters.",
    "ces_range": "Choose a number from 1 to 7.",
    "nps_range": "Choose a number from 0 to 10.",
    "photo_too_big": "This photo is over 5 MB: choose a smaller one.",
    "photo_not_image": "This file is not a JPEG, PNG or WebP picture.",
    "photo_pixels": "This picture has too many pixels (over 50 megapixels).",
    "photo_too_many": "Send at most {count} photos at once.",
}

_FR: dict[str, str] = {
    "form_title": "Donnez votre avis sur votre commande",
    "other_language": "English",
    "hello": "Bonjour {name}, qu'avez-vous pensé des produits commandés chez {store}\u00a0?",
    "hello_anon": "Qu'avez-vous pensé des produits commandés chez {store}\u00a0?",
    "how": "Notez seulement les produits que vous voulez. Pour chacun, seules les étoiles sont "
           "nécessaires.",
    "publish_note": "Vos avis sont publiés sur le site de {store} avec le nom que vous choisissez "
                    "ci-dessous, quelle que soit leur note.",
    "incentive": "En remerciement\u00a0: {incentive}. Vous le recevez quelle que soit votre "
                 "note, et il est indiqué avec votre avis.",
    "product": "Produit",
    "rating_legend": "Votre note pour {product}",
    "scale_stars": "1 étoile\u00a0: très mauvais, 5 étoiles\u00a0: excellent.",
    "star_1": "1 étoile", "star_2": "2 étoiles", "star_3": "3 étoiles", "star_4": "4 étoiles",
    "star_5": "5 étoiles",
    "out_of": "sur 5",
    "review_title": "Titre (facultatif)",
    "review_body": "Votre avis (facultatif)",
    "photo": "Une photo (facultatif)",
    "photo_hint": "JPEG, PNG ou WebP, 5\u00a0Mo au plus. Ses données de lieu et d'appareil sont "
                  "supprimées.",
    "photo_again": "Votre photo n'a pas pu être gardée car le formulaire avait des erreurs\u00a0: "
                   "choisissez-la de nouveau.",
    "survey": "Deux questions rapides (facultatif)",
    "ces_legend": "Acheter a-t-il été facile\u00a0?",
    "ces_scale": "1\u00a0: très difficile, 7\u00a0: très facile.",
    "nps_legend": "Nous recommanderiez-vous\u00a0?",
    "nps_scale": "0\u00a0: pas du tout probable, 10\u00a0: très probable.",
    "author": "Nom affiché avec vos avis",
    "author_hint": "Laissez-le vide pour rester anonyme.",
    "honeypot": "Laissez ce champ vide",
    "submit": "Envoyer mon avis",
    "errors_heading": "Il y a un problème",
    "error_in": "{field}\u00a0: {message}",
    "nothing_title": "Rien à noter",
    "nothing_body": "Cette commande n'a aucun produit à noter.",
    "thanks_title": "Merci\u00a0!",
    "thanks_body": "Votre avis a été transmis à {store}.",
    "thanks_list": "Ce que vous avez envoyé",
    "used_title": "Ce lien a déjà été utilisé",
    "used_body": "Un avis a déjà été envoyé avec ce lien\u00a0: chaque lien ne sert qu'une "
                 "fois. Merci\u00a0!",
    "unavailable_title": "Ce lien ne fonctionne plus",
    "unavailable_body": "La boutique a retiré cette demande d'avis.",
    "expired_title": "Ce lien a expiré",
    "expired_body": "Les liens de demande d'avis fonctionnent {days}\u00a0jours après l'envoi de "
                    "l'e-mail.",
    "forged_title": "Ce lien n'est pas valide",
    "forged_body": "Vérifiez que vous avez ouvert le lien entier depuis l'e-mail.",
    "csrf_title": "Votre avis n'a pas pu être envoyé",
    "csrf_body": "Pour votre sécurité, le formulaire doit être envoyé depuis la page qu'ouvre le "
                 "lien, avec les cookies autorisés. Rouvrez le formulaire, puis envoyez-le.",
    "csrf_again": "Rouvrir le formulaire",
    "rate_title": "Trop de tentatives",
    "rate_body": "Patientez quelques minutes, puis réessayez.",
    "too_large_title": "Vos photos sont trop lourdes",
    "too_large_body": "Ensemble, elles ne doivent pas dépasser {megabytes}\u00a0Mo. Revenez en "
                      "arrière et choisissez-en de plus légères.",
    "error_title": "Une erreur s'est produite",
    "error_body": "Réessayez dans un instant.",
    "unsubscribe_title": "Ne plus recevoir de demandes d'avis\u00a0?",
    "unsubscribe_body": "Vous ne recevrez plus d'e-mails de {store} vous demandant votre avis.",
    "unsubscribe_button": "Me désabonner",
    "unsubscribed_title": "Désabonnement confirmé",
    "unsubscribed_body": "Vous ne recevrez plus de demandes d'avis de {store}.",
    "unsubscribe_forged_title": "Ce lien de désabonnement n'est pas valide",
    "unsubscribe_forged_body": "Vérifiez que vous avez ouvert le lien entier depuis l'e-mail.",
    "storefront_title": "Donnez votre avis sur ce produit",
    "storefront_title_named": "Donnez votre avis sur {product}",
    "this_product": "ce produit",
    "storefront_how": "Les étoiles et votre nom suffisent.",
    "storefront_author": "Votre nom, affiché avec votre avis",
    "storefront_author_hint": "Un prénom ou un pseudonyme suffit.",
    "storefront_note": "Votre avis est publié sur le site de {store} avec votre nom, quelle que "
                       "soit sa note. Il n'est pas signalé comme celui d'un acheteur vérifié.",
    "back": "Retour à {store}",
    "rating_range": "Choisissez de 1 à 5 étoiles.",
    "rating_needed": "Choisissez une note pour donner votre avis sur ce produit, ou videz ses "
                     "autres champs.",
    "rating_one": "Notez au moins un produit.",
    "rating_missing": "Choisissez de 1 à 5 étoiles.",
    "author_needed": "Écrivez le nom à afficher avec votre avis.",
    "title_long": "Écrivez 200 caractères au plus.",
    "body_long": "Écrivez 5000 caractères au plus.",
    "author_long": "Écrivez 100 caractères au plus.",
    "ces_range": "Choisissez un nombre de 1 à 7.",
    "nps_range": "Choisissez un nombre de 0 à 10.",
    "photo_too_big": "Cette photo dépasse 5\u00a0Mo\u00a0: choisissez-en une plus légère.",
    "photo_not_image": "Ce fichier n'est pas une image JPEG, PNG ou WebP.",
    "photo_pixels": "Cette image a trop de pixels (plus de 50\u00a0mégapixels).",
    "photo_too_many": "Envoyez {count} photos au plus à la fois.",
}

TEXT: Mapping[str, Mapping[str, str]] = {"en": _EN, "fr": _FR}
assert set(_EN) == set(_FR), set(_EN) ^ set(_FR)


def pick_language(override: str | None, order_locale: str | None, default: str | None,
                  accepted: Iterable[str] = ()) -> str:
    """`override` when it is a language we speak; else French for a French order; else the
    store's default; else the first language the browser accepts that we speak; else English."""
    if override in LANGUAGES:
        return str(override)
    if order_locale and order_locale.lower().startswith("fr"):
        return "fr"
    if default in LANGUAGES:
        return str(default)
    for language in accepted:
        short = language.split("-")[0].lower()
        if short in LANGUAGES:
            return short
    return "en"
