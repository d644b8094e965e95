"""Writes own_help_requests.csv: customers reporting their own problem as a request for help, and plain questions.

Why: on real inbound customer-support tweets the classifier missed about a quarter of the complaints, and most
of the misses are problem reports phrased as a request for help ("I'm having trouble viewing my channels",
"my redeem code doesn't work 😭", "updated and now my phone is slow, can you help?"). The brand-mention corpus
labels questions that only ask about a condition ("does the warranty cover water damage?") as non-complaints,
which is right, but it has few posts in which a customer reports a fault of their own and asks what to do, so
the model learned "a question is not a complaint". This file holds both sides as minimal pairs: the same
product and wording, once as one's own fault ("my card keeps getting declined in the app, what do I do?":
complaint) and once as a plain or hypothetical question ("can I pay by card in the app?": not a complaint).

How it was written: every slot filler and frame below was written by hand for the `listener` project (English,
Japanese, German, French, Spanish). Nothing is copied or paraphrased from a dataset; in particular the
twcs_slice tweets (kept for evaluation) were only read to find which kind of post is missed, and none of their
sentences, products or brands is reused. Brands are invented. The generator is seeded and deterministic:
``python -m models.data.own_help_requests`` rewrites the CSV byte for byte.

Columns: ``text,sentiment,complaint`` (sentiment 0 negative, 1 neutral, 2 positive). Labels come from the frame:
a fault of one's own with or without an ask for help -> complaint 1, sentiment 0 (0 also for calm wording:
a service that fails the customer is a negative experience, as in the public complaints data); a plain,
hypothetical or how-to question -> complaint 0, sentiment 1. Training only; the trainer holds every fifth row
out (``--sentences``). The shipped adapter (v4) has not trained on it: the two continuations that did are in
models/weights/MODEL_CARD.md ("Real customer tweets"). Licence: MIT, like the rest of the repository.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

OUT = Path(__file__).with_name("own_help_requests.csv")
SEED = 20261207

BRANDS = {
    "en": ["Vantel", "NimbusFibre", "Orbitel", "Tunebox", "Streamly", "CartCo", "Dishdash", "Crestbank", "Bluewing",
           "Pixelnest", "Starforge", "Brightgrid", "HarbourviewInn", "Quillpay", "Zephyr_Rides", "GameVault"],
    "ja": ["ベクサモバイル", "ひかりネット光", "ラッポフード", "キロマート", "スカイバーン航空", "ほしぞら銀行",
           "メロディボックス", "ゲームヴォルト"],
    "de": ["Lindenbank", "Fernlink", "Lieferfix", "KaufhausBerger", "Nordwind_Air", "Tunebox"],
    "fr": ["Ondeline", "BanqueLumiere", "Croquo", "MaisonBerthier", "AirAzure", "Streamly"],
    "es": ["Telvia", "BancoSolana", "Comelisto", "AlmacenesRoble", "BrisaAir", "GameVault"],
}

# (own problem, plain question about the same thing); the problem is a clause that can follow "I've got a
# problem:" or stand alone, the question a whole sentence.
PAIRS = {
    "en": [
        ("my internet has been down since this morning", "do you have a page that shows outages in my area?"),
        ("the app crashes every time I open it", "is there a dark mode in the app?"),
        ("I can't log in to my account, it says my password is wrong but it isn't",
         "how do I change the email on my account?"),
        ("my order still hasn't arrived and it's been 9 days", "how long does standard delivery usually take?"),
        ("I've been charged twice for the same order", "can I pay for the phone in full instead of monthly?"),
        ("my refund still hasn't shown up after two weeks", "how long do refunds normally take to show up?"),
        ("since the update my phone is really slow", "when is the next update coming out?"),
        ("my promo code doesn't work at checkout", "do you have a student discount?"),
        ("I paid for the bonus points but never got them", "how do the bonus points work?"),
        ("my card keeps getting declined in the app", "can I pay by card in the app?"),
        ("the TV box freezes every evening", "does the TV box support 4K?"),
        ("tracking says delivered but there's no parcel here", "can I choose a delivery time slot?"),
        ("my flight was cancelled and the website won't let me rebook", "can I change my seat after check-in?"),
        ("my bag didn't come off the plane", "what's the weight limit for a checked bag?"),
        ("the printer stopped printing after the driver update", "does the printer work with a Mac?"),
        ("I can't cancel my subscription anywhere on the website", "what happens to my playlists if I cancel?"),
        ("my account got locked and nobody answers the phone", "what are your phone line opening hours?"),
        ("someone has been buying gift cards on my account", "can I turn on two-factor login?"),
        ("your website won't load, just a blank page", "is the website the place to update my address?"),
        ("I'm getting a third of the download speed I pay for", "what speed does the basic plan give?"),
        ("half of my food order was missing", "do you deliver to the business park on sundays?"),
        ("the food arrived cold again", "what time does the kitchen close tonight?"),
        ("my game download is stuck at 99 percent", "how big is the download for the new season?"),
        ("the captions turn off after every episode", "can I download episodes to watch offline?"),
        ("my room key stopped working twice last night", "is breakfast included in the room rate?"),
        ("my bill went up 20 dollars with no warning", "when does the new price list start?"),
        ("I've been on hold for 40 minutes", "is there a chat instead of the phone line?"),
        ("the meter reading on my bill is way off", "how do I send you a meter reading?"),
        ("the transfer I sent on monday still hasn't gone through", "how long do international transfers take?"),
        ("my number got ported to someone else and now I have no signal", "can I keep my number if I switch to you?"),
        ("my account was charged a late fee even though I paid on time", "when is the payment due each month?"),
        ("the driver cancelled on me three times tonight", "can I book a ride for tomorrow morning?"),
        ("my phone won't connect to wifi since the update", "does the new phone support wifi 6?"),
        ("the item I received is broken", "what's the return window for sale items?"),
        ("my streaming keeps buffering even on the fastest plan", "which plan do I need for two screens?"),
        ("I was charged a cancellation fee for a ride that never showed up", "how much is the cancellation fee?"),
    ],
    "ja": [
        ("ログインできなくなった", "登録メールアドレスってどこで変えられますか？"),
        ("アプリが起動しない", "アプリにダークモードってありますか？"),
        ("注文した商品がまだ届かない、もう一週間以上たってる", "通常配送って何日くらいかかりますか？"),
        ("同じ注文で二重に請求されてる", "機種代金って一括で払えますか？"),
        ("返金がまだ反映されてない", "返金って普通どれくらいで反映されますか？"),
        ("朝からネットが繋がらない", "障害情報ってどこで見れますか？"),
        ("アップデートしてから動作がめちゃくちゃ重い", "次のアップデートっていつ頃ですか？"),
        ("クーポンコードが使えない", "学割ってありますか？"),
        ("ポイントが付与されてない", "ポイントの有効期限って何ヶ月ですか？"),
        ("配達完了になってるのに荷物が届いてない", "配達時間の指定ってできますか？"),
        ("フライトが欠航になったのにサイトで振替できない", "チェックイン後に座席って変更できますか？"),
        ("解約ページがどこにも見当たらない", "解約したらプレイリストってどうなりますか？"),
        ("料金が急に2000円も上がってる", "新しい料金プランはいつからですか？"),
        ("届いた商品が壊れてた", "セール品も返品できますか？"),
        ("カードが何度やってもアプリで弾かれる", "アプリでカード払いってできますか？"),
        ("電話が40分つながらない", "電話窓口の受付時間を教えてください"),
    ],
    "de": [
        ("mein Internet geht seit heute morgen nicht", "wo sehe ich Störungen in meiner Gegend?"),
        ("die App stürzt bei jedem Start ab", "gibt es in der App einen Dunkelmodus?"),
        ("meine Bestellung ist nach neun Tagen immer noch nicht da", "wie lange dauert der Standardversand?"),
        ("mir wurde dieselbe Bestellung zweimal abgebucht", "kann ich das Handy auch sofort ganz bezahlen?"),
        ("meine Erstattung ist nach zwei Wochen immer noch nicht da",
         "wie lange dauert eine Erstattung normalerweise?"),
        ("ich komme nicht mehr in mein Konto", "wie ändere ich die E-Mail-Adresse in meinem Konto?"),
        ("der Gutscheincode funktioniert an der Kasse nicht", "gibt es einen Studentenrabatt?"),
        ("laut Sendungsverfolgung zugestellt, aber hier ist kein Paket", "kann ich ein Lieferfenster wählen?"),
    ],
    "fr": [
        ("ma connexion internet est coupée depuis ce matin", "où voir les pannes dans mon quartier ?"),
        ("l'appli plante à chaque ouverture", "l'appli a-t-elle un mode sombre ?"),
        ("ma commande n'est toujours pas arrivée après neuf jours", "combien de temps prend la livraison standard ?"),
        ("j'ai été débité deux fois pour la même commande", "peut-on payer le téléphone en une fois ?"),
        ("mon remboursement n'est toujours pas arrivé", "en combien de temps arrive un remboursement en général ?"),
        ("je n'arrive plus à me connecter à mon compte", "comment changer l'adresse mail de mon compte ?"),
        ("mon code promo ne marche pas au paiement", "avez-vous une réduction étudiante ?"),
        ("le suivi dit livré mais je n'ai aucun colis", "peut-on choisir un créneau de livraison ?"),
    ],
    "es": [
        ("no tengo internet desde esta mañana", "¿dónde puedo ver las averías de mi zona?"),
        ("la app se cierra cada vez que la abro", "¿la app tiene modo oscuro?"),
        ("mi pedido sigue sin llegar después de nueve días", "¿cuánto tarda el envío estándar?"),
        ("me cobraron dos veces el mismo pedido", "¿puedo pagar el móvil de una vez?"),
        ("mi reembolso sigue sin aparecer", "¿cuánto suele tardar un reembolso?"),
        ("no puedo entrar en mi cuenta", "¿cómo cambio el correo de mi cuenta?"),
        ("el código de descuento no funciona al pagar", "¿tienen descuento para estudiantes?"),
        ("el seguimiento dice entregado pero aquí no hay paquete", "¿puedo elegir franja de entrega?"),
    ],
}

# Frames for one's own problem ({b} brand handle, {p} problem) and for the plain question ({b}, {q}).
PROBLEM_FRAMES = {
    "en": ["@{b} {p}. can you help?", "@{b} hi, {p}. what do I do?", "@{b} I'm having trouble: {p}",
           "{p} @{b} any fix?", "@{b} {p} 😭", "hey @{b} {p}. please sort this out",
           "@{b} {p}, is anyone else getting this?", "{p}... @{b} how do I get this fixed?",
           "@{b} so {p}?? help", "@{b} {p}. second time this month"],
    "ja": ["@{b} {p}んですが、どうすればいいですか？", "{p}。@{b} 対応お願いします", "@{b} {p}…誰か同じ人いる？",
           "{b}、{p}んだけど", "@{b} すみません、{p}ので確認してもらえますか"],
    "de": ["@{b} {p}. Könnt ihr helfen?", "@{b} hallo, {p}. Was soll ich tun?", "{p} @{b} bitte kümmert euch darum"],
    "fr": ["@{b} {p}. Vous pouvez m'aider ?", "@{b} bonjour, {p}. Je fais quoi ?", "{p} @{b} merci de regarder"],
    "es": ["@{b} {p}. ¿Me ayudan?", "@{b} hola, {p}. ¿Qué hago?", "{p} @{b} por favor revísenlo"],
}
QUESTION_FRAMES = {
    "en": ["@{b} {q}", "@{b} hi, quick one: {q}", "{q} @{b}", "hey @{b} {q} thanks!"],
    "ja": ["@{b} {q}", "{b}って、{q}"],
    "de": ["@{b} {q}", "@{b} kurze Frage: {q}"],
    "fr": ["@{b} {q}", "@{b} petite question : {q}"],
    "es": ["@{b} {q}", "@{b} una pregunta: {q}"],
}
# How many frames each problem and each question is written in (a few hundred rows per language).
FRAMES_PER_PROBLEM = {"en": 6, "ja": 4, "de": 3, "fr": 3, "es": 3}
FRAMES_PER_QUESTION = {"en": 3, "ja": 2, "de": 2, "fr": 2, "es": 2}


def _fill(frame: str, brand: str, **slots: str) -> str:
    return frame.format(b=brand, **slots)


def rows() -> list[tuple[str, int, int]]:
    """All rows in a fixed order: (text, sentiment, complaint)."""
    rng = random.Random(SEED)
    out: list[tuple[str, int, int]] = []
    for lang, pairs in PAIRS.items():
        for problem, question in pairs:
            for frame in rng.sample(PROBLEM_FRAMES[lang], FRAMES_PER_PROBLEM[lang]):
                out.append((_fill(frame, rng.choice(BRANDS[lang]), p=problem), 0, 1))
            for frame in rng.sample(QUESTION_FRAMES[lang], FRAMES_PER_QUESTION[lang]):
                out.append((_fill(frame, rng.choice(BRANDS[lang]), q=question), 1, 0))
    first_by_text: dict[str, tuple[str, int, int]] = {}
    for row in out:
        first_by_text.setdefault(row[0], row)
    unique = list(first_by_text.values())
    rng.shuffle(unique)
    return unique


def write(path: Path = OUT) -> None:
    """Write the CSV to `path`."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "sentiment", "complaint"])
        writer.writerows(rows())


if __name__ == "__main__":
    write()
