"""Writes own_ja_general.csv: general Japanese review sentences written for this project (templates + one-offs).

What it is: Japanese sentences in the style of customer reviews of hotels, ryokan, restaurants, cafés, shops,
online shopping, products, apps, trains/buses, hospitals and gyms, plus everyday remarks, both polite
(です/ます) and casual. Training data only, to keep the classifier's Japanese sentiment general after it was
fine-tuned on brand-mention posts (models/data/mentions/).

How it was written: every template, slot filler and one-off sentence below was written by hand for the
`listener` project from the author's own knowledge of Japanese; nothing is copied, paraphrased or imitated from
a dataset (in particular not from the JRTE evaluation set or twcs_slice, which were never opened for this).
The generator is seeded and deterministic: ``python -m models.data.own_ja_general`` rewrites the CSV byte for
byte.

Columns and labels (same as own_ja.csv): ``text,sentiment,complaint``; sentiment 0 negative, 1 neutral,
2 positive; complaint 1 only for a clear grievance about the service (staff, billing, delivery, booking,
support) that calls for a response, else 0. Rules used:
- mild negatives (少し狭かった, やや古い, 〜が残念でした, 〜だけが気になりました, 期待していたほどでは…) -> 0;
- mixed sentences take the tone of the closing clause (〜は良かったのですが、〜は残念でした -> 0;
  〜は少し気になりましたが、全体的には満足です -> 2);
- factual statements, fragments, connectives, questions and 普通/可もなく不可もなく -> 1;
- intentions and recommendations: また利用したいです -> 2, 二度と利用しません -> 0;
- litotes (悪くなかった, 不満はありません) and polite thanks -> 2; sarcasm -> 0.

Counts (written by this script; tests/models/test_own_ja_general.py checks the file matches and the balance):
2,120 distinct rows: 740 negative (34.9 %, of which 120 complaints), 640 neutral (30.2 %), 740 positive (34.9 %);
166 of them are one-off hand-written sentences, the rest come from templates over 11 domains (at most 30 rows per
template). Lengths 4-42 characters. Licence: MIT, like the rest of the repository.
"""

from __future__ import annotations

import csv
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

OUT = Path(__file__).with_name("own_ja_general.csv")
SEED = 20261206
TARGET = {0: 740, 1: 640, 2: 740}  # negative (complaints included), neutral, positive
COMPLAINTS = 120  # of the negatives
PER_TEMPLATE = 30  # cap on rows from one template, so no template dominates and near-duplicates stay rare


@dataclass(frozen=True)
class Aspect:
    """Something a review judges, with plain-past predicates that praise it and that fault it."""

    noun: str
    good: tuple[str, ...]
    bad: tuple[str, ...]


@dataclass(frozen=True)
class Domain:
    """One kind of place or product: how it is named, used, judged, and facts a review states about it."""

    places: tuple[str, ...]
    use: str  # masu-stem of the verb of using it: 泊まり, 行き, 買い ...
    aspects: tuple[Aspect, ...]
    facts: tuple[str, ...]
    staff: str = "スタッフ"
    company: tuple[str, ...] = ()  # how a grievance names the business, when places name a product
    grievances: tuple[str, ...] = field(default=())


def A(noun: str, good: str, bad: str) -> Aspect:  # noqa: N802 - short constructor keeps the tables readable
    """An aspect from '/'-separated predicate lists."""
    return Aspect(noun, tuple(good.split("/")), tuple(bad.split("/")))


DOMAINS: dict[str, Domain] = {
    "hotel": Domain(
        places=("このホテル", "こちらのホテル", "今回泊まったホテル", "駅前のホテル"),
        use="泊まり",
        aspects=(
            A("部屋", "広かった/きれいだった/清潔だった/静かだった",
              "狭かった/古かった/汚かった/うるさかった/暗かった"),
            A("ベッドの寝心地", "良かった/最高だった", "悪かった/いまいちだった"),
            A("朝食", "美味しかった/豪華だった/充実していた", "物足りなかった/冷めていた/品数が少なかった"),
            A("フロントの対応", "丁寧だった/親切だった/感じが良かった", "そっけなかった/遅かった/雑だった"),
            A("バスルーム", "広かった/清潔だった", "狭かった/カビ臭かった/古かった"),
            A("窓からの眺め", "素晴らしかった/きれいだった", "残念だった/何も見えなかった"),
            A("Wi-Fi", "速かった/安定していた", "遅かった/よく切れた"),
            A("アメニティ", "充実していた/豊富だった", "少なかった/安っぽかった"),
            A("防音", "しっかりしていた", "甘かった/弱かった"),
        ),
        facts=(
            "チェックインは{h}時からです。", "チェックアウトは{h2}時でした。", "駅から徒歩{m}分ほどです。",
            "朝食はビュッフェ形式でした。", "朝食は{h3}時から食べられます。", "今回は出張で利用しました。",
            "{month}に{who}で{n}泊しました。", "部屋は{floor}階のシングルでした。", "駐車場は一泊{yen}円です。",
            "大浴場は{floor}階にあります。", "素泊まりプランで予約しました。", "空港からはリムジンバスで行きました。",
        ),
        staff="フロントの方",
        grievances=(
            "予約したはずの部屋が用意されておらず、フロントの説明もありませんでした。",
            "請求額が予約時と違っていました。説明をお願いします。",
            "清掃されていない部屋に案内されました。きちんと対応してください。",
        ),
    ),
    "ryokan": Domain(
        places=("この旅館", "こちらの宿", "今回の温泉宿", "山あいの旅館"),
        use="泊まり",
        aspects=(
            A("温泉", "気持ち良かった/最高だった/とても良かった", "ぬるかった/狭かった/混んでいた"),
            A("夕食の会席料理", "美味しかった/豪華だった/見事だった", "物足りなかった/冷めていた/量が少なかった"),
            A("仲居さんの接客", "丁寧だった/温かかった/心地よかった", "そっけなかった/雑だった"),
            A("露天風呂からの景色", "素晴らしかった/絶景だった", "残念だった/いまいちだった"),
            A("客室", "広かった/落ち着いていた/清潔だった", "古かった/狭かった/寒かった"),
            A("布団", "ふかふかだった/柔らかかった", "薄かった/湿っぽかった"),
            A("館内", "趣があった/きれいだった", "古びていた/暗かった"),
        ),
        facts=(
            "夕食は{h4}時か{h5}時から選べます。", "送迎バスは駅から{m}分ほどです。", "今回は{who}で一泊しました。",
            "大浴場は男女入れ替え制です。", "夕食は部屋食でした。", "{month}の連休に泊まりました。",
            "客室は和室の{tatami}畳でした。", "チェックインは{h}時からです。",
        ),
        staff="仲居さん",
        grievances=(
            "予約していた部屋食が、当日になって急に食事処に変更されました。説明を求めます。",
            "事前に伝えたアレルギーが全く考慮されていませんでした。改善をお願いします。",
        ),
    ),
    "restaurant": Domain(
        places=("このお店", "このレストラン", "駅前の定食屋", "近所のイタリアン", "このラーメン屋"),
        use="行き",
        aspects=(
            A("料理", "美味しかった/絶品だった/丁寧に作られていた",
              "しょっぱかった/冷めていた/味が薄かった/脂っこかった"),
            A("パスタ", "美味しかった/もちもちだった", "茹ですぎだった/味が薄かった"),
            A("ラーメンのスープ", "濃厚で美味しかった/絶品だった", "しょっぱすぎた/ぬるかった"),
            A("店員さんの接客", "丁寧だった/感じが良かった/明るかった", "そっけなかった/雑だった/感じが悪かった"),
            A("料理の提供", "早かった/スムーズだった", "遅かった/遅すぎた"),
            A("店内の雰囲気", "落ち着いていた/おしゃれだった", "騒がしかった/暗かった"),
            A("コスパ", "良かった/最高だった", "悪かった/いまいちだった"),
            A("量", "ちょうど良かった/たっぷりだった", "少なかった/物足りなかった"),
            A("デザート", "美味しかった/絶品だった", "甘すぎた/普通以下だった"),
        ),
        facts=(
            "ランチは{yen2}円からです。", "予約なしで入れました。", "カウンター席が{n2}席あります。",
            "{who}で夜に行きました。", "日替わり定食を注文しました。", "お昼時は行列ができていました。",
            "営業は{h4}時までです。", "駅から徒歩{m}分ほどの場所にあります。", "支払いは現金のみでした。",
            "今回は記念日のディナーで利用しました。",
        ),
        staff="店員",
        grievances=(
            "注文した料理と違うものが出てきたのに、謝罪の一言もありませんでした。",
            "会計で頼んでいない料理の分まで請求されていました。返金してください。",
            "予約していたのに一時間待たされました。どういうことでしょうか。",
        ),
    ),
    "cafe": Domain(
        places=("このカフェ", "こちらの喫茶店", "駅ナカのカフェ", "近所のコーヒー屋さん"),
        use="行き",
        aspects=(
            A("コーヒー", "香りが良かった/美味しかった/深みがあった", "薄かった/ぬるかった/苦すぎた"),
            A("ケーキ", "美味しかった/しっとりしていた", "パサパサだった/甘すぎた"),
            A("店内", "居心地が良かった/静かだった/おしゃれだった", "狭かった/うるさかった/タバコ臭かった"),
            A("椅子", "座りやすかった/ゆったりしていた", "硬かった/座りにくかった"),
            A("店員さん", "感じが良かった/にこやかだった", "無愛想だった/不機嫌そうだった"),
        ),
        facts=(
            "電源とWi-Fiがあります。", "ブレンドは{yen3}円でした。", "モーニングは{h3}時から{h6}時までです。",
            "テラス席もあります。", "平日の午後に行きました。", "全席禁煙です。", "作業目的で利用しました。",
        ),
        staff="店員",
    ),
    "shop": Domain(
        places=("この店", "駅ビルの雑貨屋", "近くのスーパー", "この家電量販店", "このドラッグストア"),
        use="行き",
        aspects=(
            A("品揃え", "豊富だった/充実していた", "少なかった/いまいちだった"),
            A("店員さんの説明", "分かりやすかった/丁寧だった", "分かりにくかった/適当だった"),
            A("レジ", "スムーズだった/早かった", "遅かった/混んでいた"),
            A("値段", "安かった/手頃だった", "高かった/割高だった"),
            A("店内", "明るくて見やすかった/広かった", "狭くて歩きにくかった/散らかっていた"),
        ),
        facts=(
            "営業時間は{h3}時から{h7}時までです。", "日曜日の夕方に行きました。", "ポイントカードが使えます。",
            "二階が売り場になっています。", "セルフレジもあります。", "駐車場は{n2}台分あります。",
        ),
        staff="店員",
        grievances=(
            "レジで店員に舌打ちされました。教育を徹底してください。",
            "表示価格と会計の金額が違っていました。きちんと確認してください。",
        ),
    ),
    "online": Domain(
        places=("このショップ", "このネット通販", "このオンラインストア", "この通販サイト"),
        use="利用し",
        aspects=(
            A("配送", "早かった/丁寧だった", "遅かった/予定より三日も遅れた"),
            A("梱包", "丁寧だった/しっかりしていた", "雑だった/簡素すぎた"),
            A("サイト", "見やすかった/使いやすかった", "分かりにくかった/重かった"),
            A("問い合わせへの返信", "早かった/丁寧だった", "遅かった/定型文だけだった"),
            A("商品の状態", "良かった/新品同様だった", "悪かった/傷だらけだった"),
        ),
        facts=(
            "注文から{d}日で届きました。", "送料は{yen3}円でした。", "代引きで支払いました。",
            "セールの時に注文しました。", "コンビニ受け取りにしました。", "注文は夜にスマホから行いました。",
        ),
        staff="サポート担当",
        grievances=(
            "注文した商品が二週間たっても届きません。至急確認してください。",
            "返品したのにまだ返金されていません。いつ返金されるのでしょうか。",
            "違う商品が届きました。交換をお願いします。",
            "問い合わせに一週間返事がありません。対応してください。",
        ),
    ),
    "product": Domain(
        places=("この商品", "このイヤホン", "この掃除機", "このリュック", "このフライパン", "このシャンプー"),
        use="買い",
        aspects=(
            A("使い心地", "良かった/快適だった", "悪かった/いまいちだった"),
            A("音質", "クリアだった/予想以上に良かった", "こもっていた/いまいちだった"),
            A("作り", "しっかりしていた/丁寧だった", "安っぽかった/雑だった"),
            A("デザイン", "おしゃれだった/かわいかった", "地味だった/写真と違っていた"),
            A("バッテリーの持ち", "良かった/長かった", "悪かった/短かった"),
            A("サイズ", "ちょうど良かった/ぴったりだった", "大きすぎた/小さかった"),
            A("香り", "爽やかだった/優しかった", "きつかった/苦手だった"),
        ),
        facts=(
            "色は{color}を選びました。", "価格は{yen4}円でした。", "重さは{g}グラムほどです。",
            "{d}週間ほど使ってみました。", "前のものが壊れたので買い替えました。", "付属品はケーブルと説明書です。",
            "プレゼント用に購入しました。",
        ),
        staff="メーカー",
        company=("このメーカー", "購入したショップ"),
        grievances=(
            "届いた時点で壊れていました。交換してください。",
            "一週間で動かなくなりました。保証で対応してもらえますか。",
        ),
    ),
    "app": Domain(
        places=("このアプリ", "このサービス", "この家計簿アプリ", "この地図アプリ"),
        use="使い",
        aspects=(
            A("操作", "分かりやすかった/簡単だった", "分かりにくかった/複雑だった"),
            A("動作", "軽かった/サクサクだった", "重かった/不安定だった"),
            A("デザイン", "見やすかった/すっきりしていた", "ごちゃごちゃしていた/見にくかった"),
            A("広告", "少なかった/控えめだった", "多すぎた/しつこかった"),
            A("アップデート後の使い勝手", "良くなった/改善された", "悪くなった/改悪された"),
        ),
        facts=(
            "バージョン{ver}を使っています。", "無料版を使っています。", "月額{yen3}円のプランです。",
            "アンドロイド版を使っています。", "先週インストールしました。", "ログインにはメールアドレスが必要です。",
        ),
        staff="運営",
        company=("このアプリの運営", "運営会社"),
        grievances=(
            "アップデートしてから起動しなくなりました。早く直してください。",
            "解約したのに今月も課金されていました。返金をお願いします。",
            "ログインできない状態が三日続いています。いつ復旧しますか。",
        ),
    ),
    "transit": Domain(
        places=("この路線", "この特急", "この高速バス", "この市バス", "この新幹線"),
        use="乗り",
        aspects=(
            A("座席", "広かった/快適だった", "狭かった/硬かった"),
            A("車内", "清潔だった/静かだった", "混んでいた/汚れていた/うるさかった"),
            A("運転", "丁寧だった/安定していた", "荒かった/急だった"),
            A("乗り換え", "スムーズだった/分かりやすかった", "分かりにくかった/不便だった"),
            A("車内アナウンス", "分かりやすかった/丁寧だった", "聞き取りにくかった/少なかった"),
        ),
        facts=(
            "始発は{h8}時台です。", "{m}分おきに運行しています。", "片道{yen2}円でした。",
            "今回は通勤で利用しました。", "指定席を予約しました。", "終点まで約{m2}分かかります。",
            "朝の八時台に乗りました。",
        ),
        staff="駅員",
        grievances=(
            "電車が三十分遅れたのに、アナウンスが一度もありませんでした。説明してください。",
            "バスが時刻表より早く発車してしまい、乗れませんでした。改善を求めます。",
            "運転手の態度が威圧的でした。指導をお願いします。",
        ),
    ),
    "hospital": Domain(
        places=("この病院", "このクリニック", "この歯医者", "近所の内科"),
        use="通い",
        aspects=(
            A("先生の説明", "分かりやすかった/丁寧だった", "分かりにくかった/そっけなかった"),
            A("待ち時間", "短かった/ほとんどなかった", "長かった/二時間もあった"),
            A("受付の対応", "親切だった/丁寧だった", "冷たかった/事務的すぎた"),
            A("院内", "清潔だった/明るかった", "古かった/暗かった"),
            A("看護師さん", "優しかった/親切だった", "そっけなかった/忙しそうで冷たかった"),
        ),
        facts=(
            "予約制です。", "診察は{h3}時からです。", "今回は健康診断で行きました。",
            "土曜日の午前中も開いています。", "初診でした。", "駅から歩いて{m}分ほどです。",
        ),
        staff="受付の方",
        grievances=(
            "予約していたのに一時間以上待たされ、何の説明もありませんでした。",
            "会計で二回請求されました。確認と返金をお願いします。",
        ),
    ),
    "gym": Domain(
        places=("このジム", "このフィットネスクラブ", "このヨガ教室", "近所のプール"),
        use="通い",
        aspects=(
            A("マシン", "充実していた/新しかった", "古かった/少なかった"),
            A("トレーナーさんの指導", "丁寧だった/分かりやすかった", "適当だった/雑だった"),
            A("更衣室", "きれいだった/広かった", "狭かった/汚かった"),
            A("シャワー", "清潔だった/使いやすかった", "ぬるかった/少なかった"),
            A("夜の混み具合", "ちょうど良かった/空いていた", "ひどかった/すごかった"),
        ),
        facts=(
            "月会費は{yen4}円です。", "{h3}時から{h7}時まで開いています。", "入会して{d}か月になります。",
            "週に{n3}回通っています。", "体験レッスンに参加しました。", "タオルのレンタルがあります。",
        ),
        staff="トレーナー",
        grievances=(
            "退会手続きをしたのに、翌月も会費が引き落とされていました。返金してください。",
            "受付の方の言葉遣いが失礼でした。改善をお願いします。",
        ),
    ),
}

SLOTS: dict[str, tuple[str, ...]] = {
    "h": ("14", "15", "16"), "h2": ("10", "11", "12"), "h3": ("7", "8", "9", "10"), "h4": ("17", "18", "21", "22"),
    "h5": ("19", "20"), "h6": ("11",), "h7": ("20", "21", "22", "23"), "h8": ("5", "6"),
    "m": ("3", "5", "7", "10", "12", "15"), "m2": ("40", "50", "90"), "n": ("1", "2", "3"), "n2": ("8", "10", "20"),
    "n3": ("2", "3"), "d": ("2", "3", "4"), "floor": ("3", "5", "8", "12"), "tatami": ("8", "10", "12"),
    "yen": ("1000", "1500", "2000"), "yen2": ("800", "980", "1200", "2500"), "yen3": ("300", "450", "500", "600"),
    "yen4": ("3980", "5800", "7700", "12000"), "g": ("150", "300", "800"), "ver": ("2.1", "3.0", "4.5"),
    "month": ("一月", "三月", "五月", "七月", "八月", "十月", "十二月", "年末", "お盆"),
    "who": ("家族", "友人", "一人", "夫婦", "同僚"), "color": ("黒", "白", "ネイビー", "グレー", "ベージュ"),
}


def polite(pred: str) -> str:
    """Polite past of a plain-past predicate: 広かった -> 広かったです, 清潔だった -> 清潔でした."""
    if pred.endswith("だった"):
        return pred[:-3] + "でした"
    if pred.endswith("かった"):
        return pred + "です"
    if pred.endswith("ていた") or pred.endswith("でいた"):
        return pred[:-1] + "ました"
    if pred.endswith("あった"):
        return pred[:-3] + "ありました"
    for plain, masu in (("った", "りました"), ("した", "しました"), ("れた", "れました"), ("きた", "きました"),
                        ("えた", "えました"), ("ぎた", "ぎました"), ("なった", "なりました")):
        if pred.endswith(plain):
            return pred[: -len(plain)] + masu
    return pred + "です"


def te_form(pred: str) -> str:
    """Connective form: 広かった -> 広くて, 清潔だった -> 清潔で, 混んでいた -> 混んでいて."""
    if pred.endswith("かった"):
        return pred[:-3] + "くて"
    if pred.endswith("だった"):
        return pred[:-3] + "で"
    if pred.endswith("ていた") or pred.endswith("でいた"):
        return pred[:-1] + "て"
    if pred.endswith("あった"):
        return pred[:-3] + "あって"
    if pred.endswith("った"):
        return pred[:-2] + "って"
    return pred[:-1] + "て"


def _mildable(pred: str) -> bool:
    """A fault that reads naturally after 少し/やや (a simple adjective, not already an extreme)."""
    return pred.endswith("かった") and not any(w in pred for w in ("すぎ", "最悪", "ひど", "なかった", "少な", "すご"))


# Sentence templates by label. {n}/{n2} aspect nouns, {g}/{b} good/bad plain past, {G}/{B} polite, {gt}/{bt} te-form,
# {p} place, {u} masu-stem of the use verb, {s} staff word.
POSITIVE = (
    "{n}が{G}。", "{n}がとても{G}。", "{n}が{g}！", "{n}、本当に{g}。", "特に{n}が{G}。", "思っていたより{n}が{G}。",
    "{n}が{gt}、{n2}も{G}。", "{n}が{g}ので、また{u}たいです。",
    "{n}が{gt}大満足です。", "{n}が{g}のが嬉しかったです。",
    "{p}は{n}が{G}。", "{n}が{gt}、{p}はおすすめです。", "{n}が{g}し、{n2}も{g2}。文句なし。",
    "{n}が{G}。また{u}たいと思います。", "{n}が{gt}、期待以上でした。", "{n}も{n2}も良くて、満足しています。",
    "{n}は少し{bm}ですが、全体的には満足です。", "{n}が少し{bm}けど、{n2}が{g2}からまあ許せる。",
    "{n}は少し気になりましたが、{n2}が{gt2}満足です。", "{n}がやや{bm}ものの、{n2}が{gt2}十分満足できました。",
    "{n}は悪くなかったです。", "{n}も悪くなかった。", "{n}に不満はありません。", "{n}は特に不満なし。",
    "{n}も文句なしでした。", "{s}の対応が親切で、気持ちよく{u}ました。", "{s}の対応に感謝しています。",
    "{p}、友人にも勧めたいと思います。", "{p}はまた{u}たいです。", "{p}、リピート確定です。",
    "{p}を選んで正解でした。", "{n}が{g}。星五つです。", "{p}、{n}が{g}のでおすすめ。",
)
NEGATIVE = (
    "{n}が{B}。", "{n}が少し{Bm}。", "{n}がやや{Bm}。", "{n}がちょっと{bm}。", "{n}が思ったより{Bm}。",
    "{n}が{bt}残念でした。", "{n}が{bt}がっかりしました。", "ただ、{n}が少し{Bm}。", "{n}が{b}のだけが気になりました。",
    "{n}が{b}のが残念です。", "{n}は期待していたほどではありませんでした。", "{n}はもう少し頑張ってほしいです。",
    "{n}が{bt}、もう{u}たくないです。", "{n}が{b}。二度と{u}ません。", "{n}は{G}が、{n2}が{bt2}残念でした。",
    "{n}は良かったのですが、{n2}が{B2}。", "{n}は{g}けど、{n2}が{b2}のでマイナス。", "{n}が{b}。ちょっと微妙。",
    "{p}は{n}が{bt}おすすめしません。", "正直、{n}が{B}。", "{n}がやや{bm}のが残念でした。",
    "{n}は{G}。ただ、{n2}が{bt2}減点です。", "{n}が{bt}、満足できませんでした。",
    "{n}が{b}。期待外れ。", "{n}がひどかった。", "{n}が{bt}、正直がっかり。", "{n}は改善の余地があると思います。",
    "{n}が{bt}、星二つです。",
)
NEUTRAL_FRAMES = (
    "{n}について書きます。", "次に{n}について。", "{n}は普通でした。", "{n}は可もなく不可もなくです。",
    "{n}はまあ普通かな。", "{n}は特に印象に残っていません。",
    "{n}は値段相応だと思います。", "{n}は人によると思います。",
    "{p}を利用しました。", "{p}には初めて{u}ました。", "{p}は今回で二回目です。", "{n}はどうでしたか？",
    "{n}について知りたいです。", "{p}について質問です。", "{n}は前回と同じでした。",
)


def _fill(template: str, d: Domain, rng: random.Random) -> str | None:
    """One sentence from a template and a domain, or None when the template needs a mild fault the aspect lacks."""
    a, a2 = rng.sample(d.aspects, 2)
    g, g2 = rng.choice(a.good), rng.choice(a2.good)
    b, b2 = rng.choice(a.bad), rng.choice(a2.bad)
    mild = [x for x in a.bad if _mildable(x)]
    if ("{bm}" in template or "{Bm}" in template) and not mild:
        return None
    bm = rng.choice(mild) if mild else b
    values = {
        "n": a.noun, "n2": a2.noun, "g": g, "g2": g2, "G": polite(g), "G2": polite(g2), "gt": te_form(g),
        "gt2": te_form(g2), "b": b, "b2": b2, "B": polite(b), "B2": polite(b2), "bt": te_form(b), "bt2": te_form(b2),
        "bm": bm, "Bm": polite(bm), "p": rng.choice(d.places), "u": d.use, "s": d.staff,
    }
    text = template.format(**values)
    # 〜けど/〜ものの/〜ですが take the plain or polite form as written; keep the template's punctuation as is.
    return text


def _fact(template: str, rng: random.Random) -> str:
    """A factual sentence with its numeric/word slots filled."""
    return re.sub(r"\{(\w+)\}", lambda m: rng.choice(SLOTS[m.group(1)]), template)


# One-off sentences written by hand: everyday remarks, short reactions, connectives, sarcasm and hard cases.
HAND_POSITIVE = (
    "最高でした！", "大満足です。", "また来ます！", "感動しました。", "言うことなし。", "文句なしの星五つ。",
    "本当に良かったです。", "ありがとうございました。", "今日はいい一日だった。", "久しぶりにゆっくりできました。",
    "期待以上でした。", "値段以上の価値があります。", "家族みんな喜んでいました。", "ここにして良かった。",
    "細かい気配りが嬉しかったです。", "丁寧に対応していただき、ありがとうございました。", "思ったより全然良かった。",
    "迷っているなら買って損はないです。", "悪くないと思います。", "特に不満はありません。", "満足度は高いです。",
    "また近いうちに伺います。", "次も絶対ここにします。", "リピートしています。", "子どもも大喜びでした。",
    "助かりました、ありがとうございます。", "気持ちのいい接客でした。",
    "値段が安いのに質が高い。", "全体的に満足です。",
    "少し高めですが、それだけの価値はあります。", "駅から少し遠いですが、それでもまた行きたいお店です。",
    "最初は不安でしたが、使ってみたらとても便利でした。", "口コミを見て来ましたが、評判どおりでした。",
    "急なお願いにも快く応じてくださり、感謝しています。", "こんなに美味しいものは久しぶりに食べました。",
    "スタッフの方の笑顔に癒やされました。", "困っていたところを助けていただき、本当に感謝しています。",
    "コスパ最強。", "これは買ってよかった。", "想像以上にいい。", "やっぱりここが一番。", "最高の時間を過ごせました。",
    "細部までこだわりを感じました。", "期待していなかった分、うれしい驚きでした。", "何度来ても飽きません。",
    "夫も気に入ったようです。", "迅速な対応に感謝します。", "とても快適に過ごせました。", "心から満足しています。",
    "大事な記念日を素敵に過ごせました。", "いい買い物をしました。", "ストレスなく使えています。", "もう手放せません。",
)
HAND_NEGATIVE = (
    "最悪でした。", "がっかりです。", "二度と行きません。", "残念な体験でした。", "期待外れでした。", "微妙でした。",
    "正直、おすすめできません。", "お金を返してほしいくらいです。", "もう少し何とかならないものでしょうか。",
    "値段の割には満足できませんでした。", "評判ほどではなかったです。", "期待していたほどではなかった。",
    "全体的にやや古さを感じました。", "少し狭かったです。", "清潔感がいまいちでした。", "全体的に残念な印象です。",
    "悪い意味で予想を裏切られました。", "疲れただけでした。", "時間の無駄だった。", "今日はついてない一日だった。",
    "雨で予定が全部だめになった。", "ちょっとがっかり。", "うーん、微妙。", "リピートはないかな。",
    "写真と実物が全然違いました。", "高いだけでした。", "ほかを選べばよかったと後悔しています。",
    "口コミが良かったので期待していましたが、残念でした。", "立地は良いのですが、それ以外は残念でした。",
    "料理は美味しかったのですが、接客が残念でした。", "悪くはないけど、また行きたいとは思いません。",
    "三十分待たされて、素晴らしいサービスですね。", "さすが、期待を裏切らない遅さです。",
    "この値段でこの内容とは、ある意味すごいです。", "ここまで待たせるとは、大したものです。",
    "説明書が分かりにくくて、結局使い方が分かりませんでした。", "毎回同じところで止まるのがストレスです。",
    "せっかくの旅行が台無しになりました。", "前はもっと良かったのに。", "質が落ちたと思います。",
    "この程度なら家で作った方がましです。", "星一つもつけたくないです。", "残念ながら、次はないです。",
    "期待が大きかった分、落胆も大きかったです。", "まあ、二度目はないですね。", "思っていたのと違った。",
    "うるさくてほとんど眠れませんでした。", "すぐに壊れました。", "散々な目にあいました。", "もう少し安ければ…。",
)
HAND_NEUTRAL = (
    "以下、感想です。", "まず結論から書きます。", "ちなみに平日でした。", "参考までに。", "個人的な感想です。",
    "普通です。", "可もなく不可もなく。", "特に何もありません。", "感想は人それぞれだと思います。",
    "写真を載せておきます。", "詳しくは公式サイトを見てください。",
    "今回は三回目の利用です。", "予約は電話でしました。",
    "支払いはカードでした。", "今日は晴れていました。",
    "明日は雨らしい。", "来週また行く予定です。", "駐車場はありますか？",
    "営業時間を教えてください。", "何時まで開いていますか？",
    "子ども連れでも大丈夫でしょうか。", "口コミを見て決めました。",
    "まだ使い始めたばかりなので、評価は保留です。", "良い点と悪い点をまとめます。",
    "以上です。", "総合評価は星三つにしました。",
    "そういえば、入口は裏側にあります。", "詳しいことはまた書きます。", "値段は平均的だと思います。",
    "ほかの店とあまり変わりません。", "特に良くも悪くもなかったです。",
    "一応書いておきます。", "あくまで個人の感想です。",
    "初めての利用でした。", "友人の紹介で知りました。", "仕事帰りに寄りました。", "家から車で二十分ほどです。",
    "雨の日に行きました。", "平日の昼間は比較的空いています。", "土日は予約した方がいいかもしれません。",
    "現金のほかに電子マネーも使えます。", "メニューは季節ごとに変わるそうです。", "朝は八時に家を出ました。",
    "今週末は実家に帰ります。", "今日は在宅勤務でした。", "お昼はコンビニで済ませた。", "ところで、",
    "それから、", "ちなみに、", "ただし、", "全体としては平均的です。", "悪くも良くもない、という感じです。",
    "好みが分かれるところだと思います。", "次回は別のメニューを試してみます。", "今回は以上です。",
    "値段は税込みです。", "詳細は追記します。", "サイズはMを選びました。", "再訪するかは未定です。",
    "電話で問い合わせてみました。", "スマホから予約できます。", "受付は二階です。", "月曜日は定休日です。",
)


def _sample(pool: list[tuple[str, str]], k: int) -> list[str]:
    """Up to k distinct texts from (template, text) pairs, at most PER_TEMPLATE per template."""
    per: dict[str, int] = {}
    out: list[str] = []
    seen: set[str] = set()
    for template, text in pool:
        if len(out) >= k:
            break
        if text in seen or per.get(template, 0) >= PER_TEMPLATE:
            continue
        per[template] = per.get(template, 0) + 1
        seen.add(text)
        out.append(text)
    return out


def _candidates(templates: tuple[str, ...], rng: random.Random, rounds: int) -> list[tuple[str, str]]:
    """(template, text) pairs over every domain, shuffled."""
    pool = []
    for _ in range(rounds):
        for t in templates:
            for d in DOMAINS.values():
                text = _fill(t, d, rng)
                if text:
                    pool.append((t, text))
    rng.shuffle(pool)
    return pool


def rows() -> Iterator[tuple[str, int, int]]:
    """Every (text, sentiment, complaint) row, in the order written to the CSV."""
    rng = random.Random(SEED)
    out: list[tuple[str, int, int]] = []
    seen: set[str] = set()

    def add(texts: list[str] | tuple[str, ...], sentiment: int, complaint: int, limit: int) -> None:
        n = 0
        for t in texts:
            if n >= limit:
                return
            if t not in seen:
                seen.add(t)
                out.append((t, sentiment, complaint))
                n += 1

    grievances = [g for d in DOMAINS.values() for g in d.grievances] + [
        "{s}の態度が悪すぎます。責任者から説明をお願いします。",
        "{s}に問い合わせても、たらい回しにされました。きちんと対応してください。",
        "{s}の説明と実際の料金が違っていました。差額を返金してください。",
        "{s}に失礼なことを言われました。謝罪を求めます。",
        "{p}に何度連絡してもつながりません。どうなっているんですか。",
        "予約がいつの間にかキャンセル扱いになっていました。説明してください。",
        "{p}で二重に請求されています。早く対応してください。",
        "{p}の対応には本当に腹が立ちました。改善してください。",
        "{s}に伝えたことが全く共有されていませんでした。しっかりしてください。",
        "{p}から折り返すと言われたまま、一週間連絡がありません。",
    ]
    g_pool: list[tuple[str, str]] = []
    for _ in range(4):
        for t in grievances:
            for d in DOMAINS.values():
                g_pool.append((t, t.format(p=rng.choice(d.company or d.places), s=d.staff)))
    rng.shuffle(g_pool)
    add(_sample(g_pool, COMPLAINTS), 0, 1, COMPLAINTS)

    add(HAND_NEGATIVE, 0, 0, TARGET[0])
    add(_sample(_candidates(NEGATIVE, rng, 6), TARGET[0] * 2), 0, 0, TARGET[0] - len(out))

    neutral_before = len(out)
    add(HAND_NEUTRAL, 1, 0, TARGET[1])
    facts = [(f, _fact(f, rng)) for _ in range(8) for d in DOMAINS.values() for f in d.facts]
    rng.shuffle(facts)
    add(_sample(facts, TARGET[1]), 1, 0, 320)
    add(_sample(_candidates(NEUTRAL_FRAMES, rng, 4), TARGET[1]), 1, 0,
        TARGET[1] - (len(out) - neutral_before))

    positive_before = len(out)
    add(HAND_POSITIVE, 2, 0, TARGET[2])
    add(_sample(_candidates(POSITIVE, rng, 6), TARGET[2] * 2), 2, 0, TARGET[2] - (len(out) - positive_before))
    yield from out


def write(path: Path = OUT) -> int:
    """Rewrite the CSV at path; returns the number of rows written."""
    data = list(rows())
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(("text", "sentiment", "complaint"))
        w.writerows(data)
    return len(data)


if __name__ == "__main__":
    print(f"wrote {write()} rows to {OUT}")
