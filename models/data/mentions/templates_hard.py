"""Train-only templates, second round (issue 14): non-complaints the model still flags, and their complaint contrasts.

Five kinds of hard negative, each written in every language: praise in negative-sounding slang and intensifiers
("ridiculously good", 「えぐい」, "un truc de malade"), money or time saved after switching (regret only about
waiting), questions that name damage, defects or conditions without reporting a grievance, neutral business news
in negative words (falling profit, price rises, closures, layoff rumours, maintenance), and light jokes about small
letdowns (consolation prizes, gacha, launch queues). Beside them, complaints that use the same words about the
poster's own grievance, so the model learns the target of the words rather than the words.
"""

from __future__ import annotations

# Telecom and retail sell handsets (trade-ins, warranties); these groups keep a template's rows in industries it fits.
HANDSETS = ("telecom", "retail")
ABROAD = ("telecom", "bank")
BOOKINGS = ("airline", "hotels", "software")
PARCELS = ("retail", "food_delivery")
FAST = ("telecom", "software", "food_delivery", "games", "bank")
STORES = ("retail", "bank", "telecom")  # chains with branches
MAINTAINED = ("telecom", "bank", "utilities", "software", "games")  # planned maintenance windows
LAUNCHES = ("retail", "games", "telecom")  # launch-day queues
BILLS = ("telecom", "bank", "utilities", "software")  # a monthly bill that switching provider can cut
CONTRACTS = ("telecom", "bank", "utilities", "software")
SUBSCRIBERS = ("telecom", "bank", "utilities", "software", "games")
OUTAGES = ("telecom", "utilities", "software", "games")


class ForIndustries(str):
    """A template whose rows only come from some industries (a trade-in needs a handset, a late bag an airline)."""

    industries: tuple[str, ...]

    def __new__(cls, text: str, *industries: str) -> ForIndustries:
        """The template `text`, drawn only for `industries`."""
        template = super().__new__(cls, text)
        template.industries = industries
        return template


def only(industries: tuple[str, ...] | str, text: str) -> ForIndustries:
    """`text` as a template for `industries` (one industry name or a tuple of them)."""
    return ForIndustries(text, *((industries,) if isinstance(industries, str) else industries))


def only_all(industries: tuple[str, ...] | str, texts: list[str]) -> list[ForIndustries]:
    """Each of `texts` as a template for `industries`."""
    return [only(industries, text) for text in texts]


EN: dict[str, list[str]] = {
    "praise": [
        # slang and intensifiers that sound negative
        "{thing} from {brand} is [insanely|ridiculously|absurdly] good [now|lately], [no notes|genuinely impressed]",
        only(FAST, "ok {thing} on {brand} is [sick|unreal] [today|right now] 🔥"),
        only(FAST, "it's not even fair how [quick|smooth|easy] {thing} is with {brand}"),
        "{brand} is dangerously good, [my wallet is scared|I keep coming back for more] 😅",
        "[obscenely|criminally|scarily] good value for what you get. {brand} [you legends|take my money]",
        only(FAST, "{thing} from {brand} goes absolutely bonkers [in {city}|round here], [love it|not complaining]"),
        "the way {brand} [sorted|handled] {thing} in like [30 seconds|a minute] is [actually insane|unhinged] 😭",
        only(FAST, "{brand} said speed and meant it. {thing} is [scary|frighteningly] quick"),
        "[not gonna lie|ngl] {thing} at {brand} is [criminally|wildly] underrated",
        "{thing} on {brand} hits different [fr|tbh], absolute beast of a service",
        "[lowkey|highkey] obsessed with how [cheap|easy] {brand} is. it's [ridiculous|silly] 😂",
        "whoever runs {brand} [deserves a raise|should get a pay rise], {thing} is [disgustingly|offensively] good",
        "{brand} {city} [absolutely slaps|slaps so hard] ngl",
        "{handle} you're killing it, {thing} is [mental|nuts] good 🔥",
        "[wicked|stupid] cheap and it just [keeps going|delivers]. {brand} is a cheat code",
        only(FAST, "{thing} from {brand} is so quick it's [actually funny|almost rude] lol"),
        "[filthy|sick sick sick]. {brand} [pulled it off|came through] [again|today] 🔥",
        # money or time saved after switching, regret only about waiting
        *only_all(BILLS, [
        "[bill|monthly bill] [halved|cut in half] since moving to {brand}. why didn't I do this [years ago|sooner] 🤦",
        "switched to {brand} in [March|the spring|January] and I'm saving about £{big} a month. "
        "[kicking myself for waiting|should've done it ages ago]",
        "{n} months with {brand} and I've saved [more than I expected|a small fortune]. "
        "[genuinely annoyed|mad at myself] I didn't switch sooner 😂",
        "[only regret|my one regret] about {brand}: not moving [years ago|sooner]",
        "used to lose [an hour|half a day] on this every month, with {brand} it's [five minutes|done before I notice]. "
        "wish I'd switched [sooner|earlier]",
        "{brand} saved me £{big} [this year|in three months] and no faff. past me was an idiot for not switching",
        "honestly why did I put up with overpaying for so long? {brand} [is half the price|costs way less]",
        "{handle} moved over [last month|in the spring], first bill came in £{big} lower. "
        "[cheers|you absolute legends]",
        ]),
    ],
    "comparison": [
        *only_all(BILLS, [
        "paid {comp} nearly double for [years|ages]. {brand} does the same for half. [still annoyed|cross with myself] "
        "I waited so long",
        "left {comp} for {brand} and my [bills|costs] [dropped by a third|went down £{big} a month]. "
        "should have jumped [years ago|way sooner]",
        "{comp} was costing me [an arm and a leg|a fortune]. {brand}: same deal, [half the price|way cheaper]. "
        "no regrets except the wait",
        "{n} years on {comp} out of [laziness|habit]. switched to {brand} in [a day|ten minutes] "
        "and saving every month 🙃 wish I'd done it ages ago",
        "told myself switching from {comp} would be a hassle. took {n} minutes. {brand} is cheaper and I wasted "
        "[years|ages] dreading it lol",
        "{comp} → {brand}: [bill down|bill halved], {thing} [better|just as good]. biggest mistake was waiting",
        ]),
    ],
    "question": [
        only(HANDSETS, "{brand} do you still take trade-ins if the [screen is cracked|back glass is cracked|"
             "battery is knackered]?"),
        only(HANDSETS, "does the {brand} warranty cover water damage or is that [extra|a separate plan]"),
        only(ABROAD, "{handle} will my plan work [abroad|in Japan|in the US] or do I need to "
             "[add something|buy a pass]?"),
        only("airline", "{brand} my bag turned up [two days|a day] late on my last trip, [can I still claim|is it too "
             "late to claim] for that?"),
        only(BOOKINGS, "what are the cancellation [terms|conditions] for {brand}? [just checking before I book|"
             "asking before I commit]"),
        only(HANDSETS, "anyone traded in a [phone with a dead battery|phone that won't turn on] with {brand}? do they "
             "still give you something"),
        only(CONTRACTS, "{brand} if I cancel [within the first month|mid-contract], is there a fee?"),
        only("airline", "{handle} is there a time limit on claims for a delayed bag? [asking for my next trip|"
             "just want to know]"),
        only("telecom", "does {brand} unlock phones with a cracked screen or does it have to be [in perfect condition|"
             "mint]"),
        only("bank", "{brand} does my card work abroad [without fees|or will it get blocked]? travelling next week"),
        only(PARCELS, "{brand} what happens if [something arrives damaged|an item arrives broken]? "
             "[do I send it back|is it photo and refund]?"),
        only("hotels", "{brand} can I cancel a [non-refundable|prepaid] room if I'm [ill|sick] or is that money gone"),
        only("utilities", "{handle} if I move house [mid-contract|before the year is up], is there an exit fee"),
        only(OUTAGES, "does {brand} [refund|credit] you for [an outage|downtime] or is that only on the "
             "[premium|business] plan"),
        only(("games", "software"), "{brand} if I cancel the subscription today do I keep access till the end of the "
             "month"),
        only(HANDSETS, "{brand} can I trade in a phone with a [dead|swollen] battery [lol|or is that a no]"),
        only("airline", "does {brand} let you [change|cancel] a flight for free if [there's a strike|the weather's "
             "bad]"),
    ],
    "news": [
        only(SUBSCRIBERS, "{brand} subscriber numbers [flat|roughly flat|flat again] this quarter, "
             "[per the report|says the results release]"),
        "{brand} reports [a {n}% drop in profit|lower profit] for the [quarter|half year] [{url}|]",
        "{brand} to raise prices by {n}% from [April|next month], [announced today|per their site]",
        only(STORES, "{brand} [closing|to close] {n} branches including {city} [by the summer|this year]"),
        "{brand} will end support for [the old app|its legacy plan] on [31 March|the 30th]",
        "[rumour|unconfirmed reports]: {brand} planning layoffs at its {city} [office|site]",
        "{brand} CEO [steps down|to step down], [interim chief named|successor not yet named]",
        only(MAINTAINED, "{brand} planned maintenance [tonight|this Sunday] [01:00-05:00|overnight], "
             "[per their status page|heads up]"),
        "{brand} [shares down|stock fell] {n}% after results, [revenue flat|guidance cut]",
        "{brand} losing customers to {comp}, [analysts say|according to a new survey]",
        "[apparently|reportedly] {brand} is [shutting|winding down] its {city} [branch|office] next year",
        "{brand} [Q1|Q2|Q3|Q4] results: revenue [down|slightly down], [customers|users] [flat|down {n}%]",
        "{brand} confirms a price rise for [existing|new] customers [from May|later this year]",
        "{brand} [hit by|facing] a regulator [fine|probe] over [billing|advertising], reports say",
        "heads up: {brand} [is sunsetting|retires] [the free tier|its old plans] [next month|in June]",
    ],
    "joke": [
        "entered the {brand} [prize draw|lucky draw] hoping for the [holiday|big prize]. won a [keyring|tote bag]. "
        "[living the dream|peak] 😂",
        "{brand} [spin the wheel|scratch card] results: [a 5% coupon|a sticker]. the house always wins lol",
        only("games", "[{big}|a hundred] pulls on the {brand} banner and all I got was [duplicates|a hat]. "
             "the gacha gods hate me 😂"),
        only(LAUNCHES, "queued [two hours|since 6am] for the {brand} launch in {city}, "
             "[got a free hat|made three friends], [worth it|no regrets] 😂"),
        "the {brand} mascot [waved at|high-fived] me [at the launch|in {city}] and [I'm not ok|I'll never recover] 😂",
        "{brand} lucky draw: [consolation prize|consolation prize again]. [story of my life|at least it's free] 🙃",
        "won a [mug|pen] from {brand} in the [raffle|office raffle]. my [partner|flatmate] won the grand prize. "
        "we don't talk about it 😂",
        "me: this is my year. {brand} [giveaway|raffle]: [better luck next time|thanks for entering]. me: ok fair 😂",
        only(LAUNCHES, "the {brand} [launch|opening] queue in {city} was so long I [finished a book|aged a year] lol. "
             "got in eventually"),
        "tried to win the {brand} mascot plush from the claw machine. {brand} 1, me 0 😂",
        "the {brand} [advent calendar|mystery box] was [mostly stickers|90% packaging]. still opened it like a kid 😂",
        "did the {brand} quiz for a prize, got the first question wrong. [career over|ok bye] 😂",
        "{brand} [anniversary|summer] lottery results are in and [I won nothing|my luck is consistent]. "
        "congrats to the winners tho 🎉",
        "got the [rarest|plainest] {brand} [sticker|badge] from the capsule machine. collecting them all anyway 😂",
        only("games", "{brand} login bonus gave me [10 coins|one potion]. [I'll take it|rich now] lol"),
    ],
    # Contrasts: the same words, about the poster's own grievance.
    "complaint_explicit": [
        only(BILLS, "bill went UP since moving to {brand}, [nobody told me|no warning]. and {issue}. why did I switch"),
        "{brand} is [insanely|ridiculously] slow to reply: {issue} and it's been {n} days",
        only(HANDSETS, "{brand} refused my warranty claim for a [cracked screen|dead battery] after {n} weeks of "
             "waiting. not acceptable"),
        only("airline", "{brand} lost my bag for {n} days and now says my claim is too late. seriously?"),
        "{brand} raised my price by {n}% with no notice and {issue}. [cancelling|I'm done]",
        only(HANDSETS, "{brand} quoted me £{big} for my trade-in, then knocked it to nothing over a tiny scratch. "
             "[not on|daylight robbery]"),
        only("airline", "{handle} my bag came {n} days late and your claim form [rejects|won't accept] the receipts. "
             "sort it out"),
        only(STORES, "{brand} closed the {city} branch and now the nearest one is an hour away. nobody told customers"),
        "{brand} ended my plan and moved me to a dearer one without asking. [put it back|I want a refund]",
        "it's [insane|unreal] how bad {brand} has got. {issue} and nobody [answers|cares]",
        only(HANDSETS, "why did {brand} refuse my water damage claim when I paid for the [premium|full] cover? "
             "{n} weeks and no answer"),
        only(ABROAD, "{handle} you sold me this plan as working abroad and I got charged £{big} on holiday. "
             "explain please"),
    ],
    "complaint_mild": [
        "bit gutted, moved to {brand} to save money but {issue}",
        "{brand} the price rise I can live with, but {issue}. please look at it",
        only(PARCELS, "my {brand} order arrived damaged and the refund form [won't submit|keeps failing]. "
             "could someone help?"),
        "{brand} the new prices are a bit much tbh, and {issue}",
        only(BILLS, "switched to {brand} for the savings, but honestly {issue}. kind of regretting it"),
        only("hotels", "{brand} cancelled my stay for 'maintenance' with a day's notice. bit disappointing, "
             "any chance of help?"),
        "{brand} was that price rise really necessary? {issue} and now I pay more for it",
        only(BOOKINGS, "{brand} I cancelled inside the free window and still got charged. could you check please?"),
    ],
    "complaint_sarcastic": [
        "{brand} is [insanely|ridiculously] good at one thing: {issue} 🙃",
        "ah yes, {brand} raising prices again while {issue}. [sick|unreal] 🙃",
        "{brand} so fast at [taking my money|sending the bill], so slow at everything else: {issue}",
        "love that {brand} has a lottery with prizes but not a working service: {issue} 🙃",
        "the {brand} lucky draw of customer service: {issue}, and I won nothing 🙃",
    ],
    "review_low": [
        only(BILLS, "★☆☆☆☆ switched to {brand} to save money. {issue}. would go back to {comp} tomorrow"),
        "2/5 the price rise I could live with, but {issue} and {brand} won't say when it's fixed",
        only(HANDSETS, "2/5 the trade-in quote was [insanely|criminally] low and {brand} wouldn't say why"),
    ],
    "reply_complaint": [
        only(MAINTAINED, "{handle} you said the maintenance would be done by morning. {issue}"),
    ],
    "spam": [
        only(HANDSETS, "🔥 {brand} trade-in bonus: £{big} for ANY phone, cracked or not! claim now {url}"),
        "{brand} customers: you are owed a £{big} refund for last year's price rise. verify here {url}",
        "congratulations! you've been picked in the {brand} anniversary draw 🎉 collect your prize {url}",
    ],
}

JA: dict[str, list[str]] = {
    "praise": [
        "{brand}の{thing}、[えぐい|エグい]くらい[快適|いい]",
        "{brand}の{thing}やばい、[良い意味で|いい意味で]",
        only(FAST, "{thing}、{brand}にしたら鬼速くなった[笑|w]"),
        only(FAST, "{brand}の{thing}、速すぎて笑う"),
        "{brand}のこの値段は反則級でしょ",
        "{brand}の{thing}、神すぎる[🙏|✨]",
        "{brand}の{thing}快適すぎて草",
        "{brand}、エグいほど安い[のに|し]ちゃんとしてる",
        only(FAST, "{brand}の{thing}、[バケモン|化け物]級に[速い|安定してる]"),
        "{brand}の{thing}[えぐすぎて|エグすぎて]声出た",
        "{brand}、コスパ[狂ってる|バグってる][笑|w]",
        "{brand}の{thing}、[ずるい|ずるすぎる]くらい[便利|快適]",
        "{brand}の{thing}で[泣いた|震えた]、[良すぎて|快適すぎて]",
        "{brand}の{thing}、[ぶっちゃけ|正直]ヤバい。引くほどいい",
        only(FAST, "{brand}、{thing}が爆速すぎて意味わからん[w|笑]"),
        "{handle} {thing}、[えげつない|とんでもない]完成度でした",
        "{brand}の{thing}、[やばすぎ|ヤバすぎ]でしょ。[最高|神]",
        # 乗り換えて得をした、後悔は待っていたことだけ
        *only_all(BILLS, [
        "{brand}に変えてから[料金|月の支払い]が半分。もっと早く乗り換えればよかった",
        "{brand}にして毎月{big}00円浮いてる。なんで[今まで|何年も]放置してたんだろ",
        "{brand}に[乗り換えて|変えて]{n}ヶ月、浮いたお金でちょっといいご飯食べた",
        "唯一の後悔は{brand}にするのが遅かったこと",
        "手続き{n}分で終わった。{brand}、もっと早く[やればよかった|知りたかった]",
        "{brand}にしてから[毎月の|月々の]手間が[激減|ほぼゼロ]。過去の自分に教えてあげたい",
        "{handle} 先月から使ってますが、請求が{big}%くらい下がりました。もっと早く[変えれば|知れば]よかったです",
        "[正直|ぶっちゃけ]{brand}に変えるの面倒だと思ってた。{n}分で終わって料金も下がったし、"
        "[何年損してたんや|損してた年月返して][笑|w]",
        ]),
    ],
    "comparison": [
        *only_all(BILLS, [
        "{comp}から{brand}に変えたら料金が[半分|3分の2]になった。[もっと早くすればよかった|何年も払いすぎてた]",
        "{comp}に何年も高いお金払ってたのアホらしい。{brand}で同じ{thing}が[半額|ずっと安い]",
        "{comp}→{brand}、[月{big}00円安くなった|料金半分]、{thing}も[むしろ良い|変わらず快適]。迷ってた時間が無駄だった",
        "{comp}を惰性で{n}年。{brand}に変えてやっと気づいた、[損してた|高すぎた]",
        "{comp}からの乗り換え、めんどくさがってた自分を殴りたい。{brand}安いし{thing}も[快適|問題なし]",
        "{comp}より{brand}の方が[安くて|手続きも早くて]、[もっと早く乗り換えてれば|なんで早くしなかったんだろ]…",
        ]),
    ],
    "question": [
        only(HANDSETS, "{brand}って画面割れてても下取りしてもらえるのかな"),
        only(HANDSETS, "バッテリーがへたってるスマホでも{brand}の下取りっていけるのかな？"),
        only(HANDSETS, "{brand}の保証って水没も[対象ですか|カバーされますか]？"),
        only("telecom", "{brand}のプランって海外でも[そのまま使えますか|使えるのかな]"),
        only("airline", "{brand}で荷物が[2日|1日]遅れて届いたんだけど、"
             "今からでも[補償の申請って可能？|請求できますか？]"),
        only(("airline", "hotels"), "{brand}の予約、キャンセル料っていつからかかるんだろ"),
        only(CONTRACTS, "{handle} 解約する場合、違約金[ってかかりますか|はありますか]？"),
        only(HANDSETS, "{brand}で[画面にヒビ|背面割れ]のある端末だと、下取り価格ってどのくらい下がるんですか"),
        only("bank", "{brand}のカード、海外で使うと手数料かかる？[来月旅行|出張]なので[確認したい|知りたい]"),
        only("airline", "{brand}って遅延した荷物の補償、申請期限あるのかな"),
        only(PARCELS, "{brand}で届いた商品が[破損してた|壊れてた]場合ってどうすればいいんだろ。念のため知っておきたい"),
        only("hotels", "{brand}、体調不良でのキャンセルって[対応してもらえますか|返金ありますか]"),
        only("utilities", "{brand}って引っ越しで途中解約したら違約金かかるのかな"),
        only(("games", "software"), "{brand}のサブスク、今解約しても月末まで使えるんですか？"),
        only(HANDSETS, "水濡れした[スマホ|端末]でも{brand}で[修理受け付けてもらえる|見てもらえる]のかな"),
        only(OUTAGES, "{brand}って障害で使えなかった分って返金してもらえるの？[まだ何もないけど|一応聞きたい]"),
        only("airline", "{handle} ストライキで欠航した場合って、[振替|払い戻し]できますか"),
    ],
    "news": [
        only(SUBSCRIBERS, "{brand}の契約者数、今期は横ばいとのこと"),
        "{brand}、[第1|第2|第3]四半期は減益[だって|らしい]",
        "{brand}が{thing}の値上げを発表。[来月|4月]から{n}%[らしい|とのこと]",
        only(STORES, "{brand}、{city}の店舗を[閉店|来月で閉店]するらしい"),
        "{brand}の[旧プラン|旧アプリ]、[年内で|来年3月で]終了予定とのこと",
        "{brand}で人員削減の噂が出てるらしい。[公式発表はまだ|真偽は不明]",
        "{brand}の社長が[退任|交代]へ。後任は[未定|{comp}出身の人]とのこと",
        only(MAINTAINED, "{brand}、今夜[2時から|深夜に]メンテナンスとのこと。[念のため|一応]共有"),
        "{brand}の株価、決算発表後に{n}%下落[したらしい|とのこと]",
        only(SUBSCRIBERS, "{brand}、会員数が[前年割れ|伸び悩み]と報道"),
        "{brand}と{comp}、[シェア争い|値下げ競争]が激化してるらしい",
        "{brand}が一部サービスの終了を発表。対象は{city}[エリア|周辺]とのこと",
        "{brand}、[営業利益|売上]が前年比{n}%減。要因は[円安|コスト増]らしい",
        "[ニュースで見た|記事によると]{brand}、{city}の拠点を[閉鎖|縮小]するって",
        "{brand}の新料金、[既存ユーザー|新規契約]も値上げの対象になるとのこと [{url}|]",
    ],
    "joke": [
        "{brand}のくじ引きの結果はお察し[笑|w]",
        "{brand}のキャンペーン、[当たったのは|当選したのは][参加賞|ステッカー]でした。知ってた😂",
        only("games", "{brand}のガチャ{big}連して[爆死|全部すり抜け]。これもまた人生[笑|w]"),
        only(LAUNCHES, "{brand}の新作発売日、{city}の行列がえぐくて並んでる間に友達できた笑"),
        "{brand}のマスコット、近くで見たら[思ったよりでかくて|ちょっと怖くて]草",
        "{brand}の抽選、今回も[ハズレ|参加賞]。[安定の|いつもの]くじ運のなさ😂",
        "{brand}の福袋、中身の半分が[ステッカー|エコバッグ]だった[笑|w] でも[楽しかった|満足]",
        "{brand}のキャンペーン、[3等|残念賞]のクーポンもらった。まあそんなもんよね笑",
        "{brand}のアプリのルーレット、毎日回してるけど[1ポイント|ハズレ]しか出ない。もはや日課😂",
        "{brand}のクレーンゲーム、マスコットのぬいぐるみに{big}00円溶かした[笑|w] 取れなかった",
        "{brand}の[周年|夏の]くじ、[1等|特賞]はどこの誰が当ててるんやろ笑",
        "{brand}の新しいCMのダンス、覚えようとしたら[腰やった|無理だった]笑",
        only("games", "{brand}、推しが出るまで回すつもりが出てきたのは{n}枚目のダブり。草"),
        only(LAUNCHES, "{brand}のオープン、{n}時間並んだ結果[ノベルティのうちわ|記念のシール]だけ手に入れて帰宅[笑|w]"),
        "{brand}のプレゼント企画、[今回も|またしても]かすりもせず。次こそは😂",
    ],
    "complaint_explicit": [
        only(BILLS, "{brand}に変えてから料金むしろ上がった。{issue}し、[前の方がマシ|戻りたい]"),
        "{brand}、えぐいくらい返事が遅い。{issue}のに{n}日放置",
        only(HANDSETS, "{brand}、画面割れの保証申請{n}週間待たされた挙句に却下。納得できない"),
        only("airline", "{brand}に荷物を{n}日なくされて、今さら申請期限切れって言われた。ありえない"),
        "{brand}、通知なしで{n}%値上げしてきたうえに{issue}。解約します",
        only(HANDSETS, "{brand}の下取り、小さい傷で査定ほぼゼロにされた。事前の説明と違う"),
        only("airline", "{handle} 荷物が{n}日遅れて届いた件、補償の申請フォームがエラーで送れません。対応してください"),
        only(STORES, "{brand}、{city}の店舗閉めるなら既存客に連絡くらいしてよ。手続きどうすればいいの"),
        "{brand}のプラン勝手に終了されて、高いプランに移行させられた。説明して",
        "{brand}、最近ひどすぎて草も生えない。{issue}",
        only(HANDSETS, "{brand}の水没保証、ちゃんと入ってたのに申請却下されたんですけど？説明してください"),
        only(ABROAD, "{handle} 海外でも使えるって言われたプランなのに、高額請求きました。どういうことですか"),
    ],
    "complaint_mild": [
        only(BILLS, "節約のつもりで{brand}にしたけど、{issue}のがちょっと残念"),
        "{brand}の値上げは仕方ないとして、{issue}のは直してほしいな",
        only(PARCELS, "{brand}で届いた商品が破損してて、返金フォームが送信できない…どなたか見てもらえますか"),
        "{brand}の値上げ、正直ちょっときつい。しかも{issue}",
        only(BILLS, "安くなると思って{brand}にしたけど、{issue}。ちょっと後悔してる"),
        only("hotels", "{brand}、メンテナンスを理由に前日キャンセルされた。少し残念です…何か対応ありますか"),
        "{brand}、値上げするのはいいけど{issue}のはどうにかならないかな",
        only(BOOKINGS, "{brand}、無料キャンセル期間内に取り消したのに料金引かれてました。確認お願いできますか"),
    ],
    "complaint_sarcastic": [
        "{brand}、{issue}のだけはえぐいほど得意よね🙃",
        "値上げだけは爆速な{brand}さん、{issue}のは放置なんですね",
        "{brand}、請求だけは神速。{issue}のに🙃",
        "{brand}のくじは一度も当たらないのに、不具合だけは毎回当たり。{issue}🙃",
        "{brand}のサポート、ガチャより当たらない。{issue}🙃",
    ],
    "review_low": [
        only(BILLS, "★1 節約のつもりで{brand}に乗り換えたら{issue}。{comp}に戻りたい"),
        "★2 値上げは我慢するけど、{issue}のに{brand}から何の説明もない",
        only(HANDSETS, "★2 下取り査定がえぐいほど低かった。{brand}は理由も説明してくれない"),
    ],
    "reply_complaint": [
        only(MAINTAINED, "{handle} メンテナンスは朝までに終わるって言ってましたよね。{issue}"),
    ],
    "spam": [
        only(HANDSETS, "【{brand}】画面割れでも高価買取！今だけ{big}00円上乗せ→{url}"),
        "{brand}の値上げ分を返金します。こちらから手続きしてください {url}",
        "🎉{brand}周年抽選にご当選されました！賞品の受け取りはこちら {url}",
    ],
}

DE: dict[str, list[str]] = {
    "praise": [
        only(FAST, "{thing} bei {brand} ist [krass|brutal] schnell geworden 🔥"),
        "{brand} ist [echt|einfach] der Wahnsinn, [so unkompliziert|so günstig] 😍",
        "[Absolut|Völlig] irre, wie [schnell|einfach] das bei {brand} ging",
        "{thing} von {brand} ist [abartig|unverschämt] gut, [kein Witz|ehrlich]",
        "{brand} ist [gefährlich|verboten] gut, mein Konto hat Angst 😅",
        "{handle} ihr seid [der Hammer|eine Wucht], {thing} ist [bombe|der Knaller]",
        *only_all(BILLS, [
        "Seit dem Wechsel zu {brand} zahle ich [die Hälfte|{big} € weniger im Monat]. Warum hab ich das nicht früher "
        "gemacht?",
        "Mein einziger Fehler mit {brand}: nicht schon vor Jahren gewechselt zu haben",
        "Rechnung halbiert seit {brand}. Ärgere mich, dass ich so lange gewartet habe 😂",
        ]),
        "Das ist ja [krank|übertrieben], wie gut {thing} bei {brand} ist 😅",
        "{brand} ist [lächerlich|absurd] günstig, [kein Scherz|ehrlich jetzt] 🔥",
        only(BILLS, "Früher ging jeden Monat eine Stunde für Papierkram drauf, mit {brand} sind es fünf Minuten. "
             "Hätte ich das nur früher gewusst"),
    ],
    "comparison": [
        *only_all(BILLS, [
        "Von {comp} zu {brand}: gleiche Leistung, [halber Preis|{big} € weniger]. Hätte ich mal früher gewechselt",
        "Jahrelang zu viel bei {comp} bezahlt. {brand} ist [deutlich günstiger|viel billiger] und {thing} "
        "[läuft genauso gut|ist sogar besser]",
        "Wechsel von {comp} dauerte {n} Minuten. Und ich hab mich jahrelang davor gedrückt 🙈 {brand} spart mir jeden "
        "Monat Geld",
        ]),
    ],
    "question": [
        only(HANDSETS, "Nimmt {brand} Handys mit [gesprungenem Display|kaputtem Akku] noch in Zahlung?"),
        only(HANDSETS, "Deckt die {brand}-Garantie auch Wasserschäden ab"),
        only(ABROAD, "{handle} Funktioniert mein Tarif auch im Ausland oder brauche ich eine Zusatzoption?"),
        only("airline", "Mein Koffer kam bei {brand} [zwei Tage|einen Tag] zu spät, kann ich das noch geltend machen?"),
        only(BOOKINGS, "Was sind bei {brand} die Stornobedingungen? Frage vor der Buchung"),
        only(CONTRACTS, "{brand} wie hoch ist die Gebühr, wenn man vorzeitig kündigt"),
        only(PARCELS, "Was macht {brand}, wenn etwas beschädigt ankommt? Nur zur Sicherheit gefragt"),
        only(HANDSETS, "Frage mich, ob {brand} auch Geräte mit Wasserschaden repariert oder ob das raus ist"),
    ],
    "news": [
        only(SUBSCRIBERS, "{brand}: Kundenzahl im Quartal [stagniert|praktisch unverändert]"),
        "{brand} meldet [Gewinnrückgang|{n} % weniger Gewinn] im [Quartal|Halbjahr]",
        "{brand} erhöht ab [April|nächstem Monat] die Preise um {n} %",
        only(STORES, "{brand} schließt [{n} Standorte|den Standort in {city}] [bis zum Sommer|dieses Jahr]"),
        "{brand} stellt [den alten Tarif|die alte App] zum [Jahresende|31. März] ein",
        "Gerüchte über Stellenabbau bei {brand} in {city}, offiziell [bestätigt ist nichts|noch nichts]",
        "{brand}-Chef tritt zurück, Nachfolge [offen|noch unklar]",
        only(MAINTAINED, "{brand} kündigt Wartungsarbeiten für [heute Nacht|Sonntag früh] an"),
    ],
    "joke": [
        "Beim {brand}-Gewinnspiel mitgemacht, auf die Reise gehofft, einen [Schlüsselanhänger|Kugelschreiber] "
        "gewonnen 😂",
        only("games", "{big} Ziehungen bei {brand} und nur Duplikate. Die Gacha-Götter hassen mich 😂"),
        only(LAUNCHES, "{n} Stunden in der Schlange zum {brand}-Launch in {city}. "
             "Dafür eine Gratis-Mütze [erbeutet|bekommen] 😂"),
        "Das {brand}-Maskottchen hat mir gewunken und ich bin [überfordert|nicht okay] 😂",
        "{brand}-Glücksrad: Trostpreis. Wie immer. Immerhin gratis 🙃",
        "Im {brand}-Adventskalender waren hauptsächlich Sticker. Hab mich trotzdem gefreut wie ein Kind 😂",
        "{brand}-Verlosung: Hauptpreis verpasst, dafür ein Gutschein über 2 € 😂 Nehme es mit Humor",
        "Mein Los beim {brand}-Sommerfest: Niete. Wie jedes Jahr. Tradition ist Tradition 😂",
    ],
    "complaint_explicit": [
        only(BILLS, "Seit dem Wechsel zu {brand} zahle ich mehr, nicht weniger. Und {issue}"),
        only(HANDSETS, "{brand} lehnt meine Garantie für den [Displaybruch|kaputten Akku] nach {n} Wochen ab. "
             "Unverschämt"),
    ],
    "complaint_mild": [
        only(BILLS, "Wegen der Ersparnis zu {brand} gewechselt, aber {issue}. Bereue es ein bisschen"),
        only("airline", "Mein Koffer kam bei {brand} {n} Tage zu spät und auf meinen Antrag antwortet niemand. "
             "Bitte meldet euch"),
    ],
    "complaint_sarcastic": [
        "Krass, wie schnell {brand} die Preise erhöht. Nur bei mir gilt: {issue} 🙃",
        "{brand} ist in einer Sache richtig gut: {issue} 🙃",
    ],
    "reply_complaint": [
        only(MAINTAINED, "{handle} Ihr sagtet, die Wartung ist bis morgens fertig. {issue}"),
    ],
    "spam": [
        "{brand}-Kunden aufgepasst: Erstattung für die Preiserhöhung, jetzt bestätigen {url}",
        "Glückwunsch! Du wurdest bei der {brand}-Jubiläumsverlosung gezogen 🎉 Preis abholen {url}",
    ],
}

FR: dict[str, list[str]] = {
    "praise": [
        "{thing} chez {brand}, c'est un truc de [malade|ouf] 🔥",
        only(FAST, "{brand} est [dingue|abusé] de rapidité, sérieux"),
        "C'est [indécent|scandaleux] à quel point {brand} est pas cher 😅",
        "{thing} chez {brand} [envoie du lourd|déchire tout], [j'adore|trop bien]",
        "{brand}, c'est [une dinguerie|une tuerie], [franchement|sérieux]",
        "{handle} vous êtes [des tueurs|des monstres], {thing} [c'est le feu|c'est une masterclass] 🔥",
        *only_all(BILLS, [
        "Ma facture a été divisée par deux depuis que je suis chez {brand}. Pourquoi j'ai attendu si longtemps ?",
        "Seul regret avec {brand} : ne pas être passé chez eux plus tôt",
        "Je gagne [{big} €|une heure] par mois depuis {brand}. J'aurais dû changer [il y a des années|bien avant]",
        ]),
        "C'est [abusé|n'importe quoi] à quel point {thing} chez {brand} est bien 😅",
        "{brand}, c'est [de ouf|chanmé], ça tue [franchement|grave] 🔥",
        only(BILLS, "Avant je perdais une heure par mois en paperasse, avec {brand} c'est cinq minutes. "
             "Si j'avais su plus tôt"),
    ],
    "comparison": [
        *only_all(BILLS, [
        "De {comp} à {brand} : même service, moitié prix. J'aurais dû le faire [avant|il y a longtemps]",
        "Des années à payer trop cher chez {comp}. Chez {brand}, {thing} [marche aussi bien|est même mieux] pour "
        "beaucoup moins",
        "Changer de {comp} à {brand} a pris {n} minutes. Et moi qui repoussais depuis des années 🙈",
        ]),
    ],
    "question": [
        only(HANDSETS, "{brand} reprend les téléphones avec [l'écran fissuré|une batterie morte] ?"),
        only(HANDSETS, "La garantie {brand} couvre les dégâts des eaux ou pas"),
        only(ABROAD, "{handle} mon forfait marche à l'étranger ou il faut une option ?"),
        only("airline", "Ma valise est arrivée avec [deux jours|un jour] de retard avec {brand}, je peux encore "
             "réclamer ?"),
        only(BOOKINGS, "Quelles sont les conditions d'annulation chez {brand} ? Je me renseigne avant de réserver"),
        only(CONTRACTS, "{brand} il y a des frais si on résilie avant la fin de l'engagement"),
        only(PARCELS, "Si un colis {brand} arrive abîmé, on fait comment ? Juste pour savoir"),
        only(HANDSETS, "Je me demande si {brand} répare aussi les téléphones tombés dans l'eau ou si c'est exclu"),
    ],
    "news": [
        only(SUBSCRIBERS, "{brand} : nombre d'abonnés stable ce trimestre"),
        "{brand} annonce un bénéfice en baisse de {n} %",
        "{brand} augmente ses prix de {n} % à partir [d'avril|du mois prochain]",
        only(STORES, "{brand} va fermer [{n} agences|son agence de {city}] [d'ici l'été|cette année]"),
        "{brand} met fin à [son ancienne offre|l'ancienne appli] [en fin d'année|le 31 mars]",
        "Rumeurs de suppressions de postes chez {brand} à {city}, rien d'officiel",
        "Le patron de {brand} quitte son poste, successeur pas encore nommé",
        only(MAINTAINED, "{brand} annonce une maintenance [cette nuit|dimanche matin]"),
    ],
    "joke": [
        "Participé au tirage au sort {brand} en visant le voyage, gagné [un porte-clés|un stylo] 😂",
        only("games", "{big} tirages sur la bannière {brand} et que des doublons. Les dieux du gacha me détestent 😂"),
        only(LAUNCHES, "{n} heures de queue pour le lancement {brand} à {city}, "
             "reparti avec une casquette gratuite 😂"),
        "La mascotte {brand} m'a fait coucou et je m'en remets pas 😂",
        "Roue de la chance {brand} : lot de consolation. Comme d'hab. Au moins c'est gratuit 🙃",
        "Le calendrier de l'avent {brand}, c'était surtout des autocollants. Content comme un gamin quand même 😂",
        "Tirage au sort {brand} : pas le gros lot, mais un bon de 2 €. Je le prends avec le sourire 😂",
        "Mon ticket de tombola {brand} : perdant. Comme chaque année. Fidèle à moi-même 😂",
    ],
    "complaint_explicit": [
        only(BILLS, "Depuis que je suis chez {brand}, je paie plus, pas moins. Et {issue}"),
        only(HANDSETS, "{brand} refuse la garantie pour mon [écran fissuré|téléphone à batterie morte] après {n} "
             "semaines. Inadmissible"),
    ],
    "complaint_mild": [
        only(BILLS, "Passé chez {brand} pour économiser, mais {issue}. Je regrette un peu"),
        only("airline", "Ma valise est arrivée avec {n} jours de retard chez {brand} et personne ne répond à "
             "ma réclamation. Merci de revenir vers moi"),
    ],
    "complaint_sarcastic": [
        "C'est dingue comme {brand} est rapide pour augmenter les prix. Par contre : {issue} 🙃",
        "{brand} est vraiment doué pour une chose : {issue} 🙃",
    ],
    "reply_complaint": [
        only(MAINTAINED, "{handle} vous aviez dit que la maintenance serait finie ce matin. {issue}"),
    ],
    "spam": [
        "Clients {brand} : remboursement de la hausse de prix disponible, confirmez ici {url}",
        "Félicitations ! Vous êtes tiré au sort pour l'anniversaire {brand} 🎉 Récupérez votre lot {url}",
    ],
}

ES: dict[str, list[str]] = {
    "praise": [
        only(FAST, "{thing} de {brand} es una locura de rápido 🔥"),
        "{brand} es [una barbaridad|una pasada], qué [bien|maravilla]",
        "Es [un escándalo|indecente] lo barato que es {brand} 😅",
        "{thing} con {brand} está [de locos|que flipas], me encanta",
        "{brand} es [peligrosamente|exageradamente] bueno, mi cartera tiene miedo 😂",
        "{handle} sois unos [cracks|bestias], {thing} es [brutal|una pasada] 🔥",
        *only_all(BILLS, [
        "Mi factura se ha reducido a la mitad desde que estoy con {brand}. ¿Por qué no lo hice antes?",
        "Mi único arrepentimiento con {brand}: no haberme cambiado hace años",
        "Ahorro {big} € al mes desde que me pasé a {brand}. Tendría que haberlo hecho [mucho antes|hace años]",
        ]),
        "Es [un crimen|un abuso] lo bien que va {thing} con {brand} 😅",
        "{brand} es [una salvajada|brutal], de verdad 🔥",
        only(BILLS, "Antes perdía una hora al mes con papeleo, con {brand} son cinco minutos. "
             "Ojalá lo hubiera sabido antes"),
    ],
    "comparison": [
        *only_all(BILLS, [
        "De {comp} a {brand}: mismo servicio, mitad de precio. Debería haberme cambiado antes",
        "Años pagando de más en {comp}. Con {brand}, {thing} [va igual de bien|va incluso mejor] por mucho menos",
        "Cambiarme de {comp} a {brand} me llevó {n} minutos. Y yo aplazándolo años 🙈",
        ]),
    ],
    "question": [
        only(HANDSETS, "¿{brand} acepta móviles con [la pantalla rota|la batería muerta] como parte de pago?"),
        only(HANDSETS, "La garantía de {brand} cubre daños por agua o no"),
        only(ABROAD, "{handle} ¿mi tarifa funciona en el extranjero o necesito contratar algo?"),
        only("airline", "Con {brand} mi maleta llegó [dos días|un día] tarde, ¿todavía puedo reclamar?"),
        only(BOOKINGS, "¿Cuáles son las condiciones de cancelación de {brand}? Pregunto antes de reservar"),
        only(CONTRACTS, "{brand} hay penalización si doy de baja antes de tiempo"),
        only(PARCELS, "Si un pedido de {brand} llega dañado, ¿qué se hace? Solo por saberlo"),
        only(HANDSETS, "Me pregunto si {brand} repara móviles mojados o si eso no entra"),
    ],
    "news": [
        only(SUBSCRIBERS, "{brand}: número de clientes estancado este trimestre"),
        "{brand} anuncia una caída del {n} % en beneficios",
        "{brand} subirá precios un {n} % a partir [de abril|del mes que viene]",
        only(STORES, "{brand} cerrará [{n} oficinas|su oficina de {city}] [este verano|este año]"),
        "{brand} dejará de ofrecer [su tarifa antigua|la app antigua] [a final de año|el 31 de marzo]",
        "Rumores de despidos en {brand} en {city}, nada oficial todavía",
        "El consejero delegado de {brand} deja el cargo; sucesor por nombrar",
        only(MAINTAINED, "{brand} anuncia mantenimiento [esta noche|el domingo de madrugada]"),
    ],
    "joke": [
        "Participé en el sorteo de {brand} soñando con el viaje y me tocó [un llavero|un boli] 😂",
        only("games", "{big} tiradas en el banner de {brand} y solo repetidos. Los dioses del gacha me odian 😂"),
        only(LAUNCHES, "{n} horas de cola en el lanzamiento de {brand} en {city}, me llevé una gorra gratis 😂"),
        "La mascota de {brand} me saludó y no lo supero 😂",
        "Ruleta de {brand}: premio de consolación. Como siempre. Al menos es gratis 🙃",
        "El calendario de adviento de {brand} era casi todo pegatinas. Lo abrí feliz como un niño igualmente 😂",
        "Sorteo de {brand}: ni el premio gordo ni el segundo, un cupón de 2 €. Me lo tomo con humor 😂",
        "Mi papeleta de la rifa de {brand}: nada. Como todos los años. Tradición 😂",
    ],
    "complaint_explicit": [
        only(BILLS, "Desde que estoy con {brand} pago más, no menos. Y encima {issue}"),
        only(HANDSETS, "{brand} me rechaza la garantía por [la pantalla rota|la batería muerta] tras {n} semanas. "
             "Inaceptable"),
    ],
    "complaint_mild": [
        only(BILLS, "Me cambié a {brand} para ahorrar, pero {issue}. Me arrepiento un poco"),
        only("airline", "Mi maleta llegó {n} días tarde con {brand} y nadie responde a mi reclamación. "
             "Por favor, contestad"),
    ],
    "complaint_sarcastic": [
        "Qué locura lo rápido que sube los precios {brand}. Eso sí: {issue} 🙃",
        "{brand} es buenísimo en una cosa: {issue} 🙃",
    ],
    "reply_complaint": [
        only(MAINTAINED, "{handle} dijisteis que el mantenimiento acababa esta mañana. {issue}"),
    ],
    "spam": [
        "Clientes de {brand}: reembolso por la subida de precios disponible, confirma aquí {url}",
        "¡Enhorabuena! Has ganado el sorteo de aniversario de {brand} 🎉 Recoge tu premio {url}",
    ],
}

PT: dict[str, list[str]] = {
    "praise": [
        only(FAST, "{thing} da {brand} é absurdo de rápido 🔥"),
        "A {brand} tá [surreal|insana], que [coisa|maravilha]",
        "Chega a ser [um absurdo|indecente] de barato a {brand} 😅",
        "{thing} com a {brand} tá [monstro|um absurdo], amei",
        "A {brand} é perigosamente boa, minha carteira tá com medo kkkk",
        "{handle} vocês são [monstros|brabos], {thing} tá [um espetáculo|insano] 🔥",
        *only_all(BILLS, [
        "Minha conta caiu pela metade desde que fui pra {brand}. Por que não fiz isso antes?",
        "Meu único arrependimento com a {brand}: não ter trocado anos atrás",
        "Economizo [R$ {big}|{big} €] por mês desde que mudei pra {brand}. Devia ter trocado [muito antes|anos atrás]",
        ]),
        "É [um crime|sacanagem] o quanto {thing} da {brand} é bom 😅",
        "A {brand} é [bizarra de boa|braba demais], sério 🔥",
        only(BILLS, "Antes eu perdia uma hora por mês com burocracia, com a {brand} são cinco minutos. "
             "Se eu soubesse antes"),
    ],
    "comparison": [
        *only_all(BILLS, [
        "Da {comp} pra {brand}: mesmo serviço, metade do preço. Devia ter trocado antes",
        "Anos pagando a mais na {comp}. Na {brand}, {thing} [funciona igual|é até melhor] por bem menos",
        "Trocar da {comp} pra {brand} levou {n} minutos. E eu adiando isso por anos 🙈",
        ]),
    ],
    "question": [
        only(HANDSETS, "A {brand} aceita celular com [tela trincada|bateria morta] na troca?"),
        only(HANDSETS, "A garantia da {brand} cobre dano por água ou não"),
        only(ABROAD, "{handle} meu plano funciona no exterior ou preciso contratar algo?"),
        only("airline", "Minha mala chegou com [dois dias|um dia] de atraso na {brand}, ainda dá pra pedir "
             "indenização?"),
        only(BOOKINGS, "Quais são as condições de cancelamento da {brand}? Pergunto antes de reservar"),
        only(CONTRACTS, "{brand} tem multa se eu cancelar antes do fim do contrato"),
        only(PARCELS, "Se um pedido da {brand} chegar danificado, como faz? Só pra saber"),
        only(HANDSETS, "Queria saber se a {brand} conserta celular que caiu na água ou se não cobre"),
    ],
    "news": [
        only(SUBSCRIBERS, "{brand}: número de clientes estável no trimestre"),
        "{brand} anuncia queda de {n}% no lucro",
        "{brand} vai reajustar preços em {n}% a partir de [abril|mês que vem]",
        only(STORES, "{brand} vai fechar [{n} unidades|a unidade de {city}] [até o meio do ano|este ano]"),
        "{brand} encerra [o plano antigo|o app antigo] [no fim do ano|em 31 de março]",
        "Rumores de demissões na {brand} em {city}, nada oficial ainda",
        "CEO da {brand} deixa o cargo; sucessor ainda não definido",
        only(MAINTAINED, "{brand} avisa manutenção programada [hoje de madrugada|no domingo]"),
    ],
    "joke": [
        "Entrei no sorteio da {brand} sonhando com a viagem e ganhei [um chaveiro|uma caneta] kkkk",
        only("games", "{big} giros no banner da {brand} e só repetido. Os deuses do gacha me odeiam 😂"),
        only(LAUNCHES, "{n} horas de fila no lançamento da {brand} em {city}, saí com um boné de brinde 😂"),
        "O mascote da {brand} acenou pra mim e eu não tô bem 😂",
        "Roleta da {brand}: prêmio de consolação. Como sempre. Pelo menos é de graça 🙃",
        "O calendário do advento da {brand} era quase só adesivo. Abri feliz igual criança mesmo assim 😂",
        "Sorteio da {brand}: nada do prêmio principal, ganhei um cupom de R$ 2 kkkk levo na esportiva",
        "Minha rifa da {brand}: nada. Como todo ano. Tradição é tradição 😂",
    ],
    "complaint_explicit": [
        only(BILLS, "Desde que mudei pra {brand} pago mais, não menos. E ainda {issue}"),
        only(HANDSETS, "A {brand} recusou a garantia da [tela trincada|bateria morta] depois de {n} semanas. "
             "Inaceitável"),
    ],
    "complaint_mild": [
        only(BILLS, "Mudei pra {brand} pra economizar, mas {issue}. Tô meio arrependido"),
        only("airline", "Minha mala chegou {n} dias atrasada na {brand} e ninguém responde meu pedido. "
             "Por favor, retornem"),
    ],
    "complaint_sarcastic": [
        "Absurdo de rápida a {brand} pra aumentar preço. Já pra isso: {issue} 🙃",
        "A {brand} é ótima em uma coisa: {issue} 🙃",
    ],
    "reply_complaint": [
        only(MAINTAINED, "{handle} vocês disseram que a manutenção acabava de manhã. {issue}"),
    ],
    "spam": [
        "Clientes {brand}: reembolso do reajuste disponível, confirme aqui {url}",
        "Parabéns! Você foi sorteado no aniversário da {brand} 🎉 Resgate seu prêmio {url}",
    ],
}

KO: dict[str, list[str]] = {
    "praise": [
        only(FAST, "{brand} {thing} 속도 미쳤다 (좋은 뜻으로) 🔥"),
        "{brand} 진짜 [사기급|반칙]이에요, 이 가격에 이게 말이 돼요? 😂",
        only(FAST, "{brand} {thing} [개빠름|미친 속도] ㄷㄷ 최고"),
        "{brand} 가격 [실화냐|말도 안 됨], 너무 싸요 👍",
        "{brand} {thing} [무섭게|소름 돋게] 좋아요. 인정",
        "{handle} [미쳤어요|미친 것 같아요] 진짜, {thing} 너무 좋아요 🔥",
        "{brand} 위험할 정도로 좋아요. 지갑이 무서워함 ㅋㅋ",
        *only_all(BILLS, [
        "{brand}로 바꾸고 요금이 반으로 줄었어요. 왜 진작 안 바꿨지",
        "{brand} 쓰면서 유일한 후회: 더 일찍 안 바꾼 거",
        "{brand}로 옮기고 한 달에 {big}000원씩 아끼는 중. [몇 년 전에|진작] 바꿀걸",
        ]),
        "{brand} {thing} [혜자|갓성비] 그 자체 ㄷㄷ",
        "{brand} ㄹㅇ 사기캐임, 너무 좋아서 무서움 ㅋㅋ",
        only(BILLS, "예전엔 매달 서류 처리에 한 시간 걸렸는데 {brand}는 5분이면 끝. 진작 알았으면"),
    ],
    "comparison": [
        *only_all(BILLS, [
        "{comp}에서 {brand}로: 같은 서비스, 반값. 진작 바꿀 걸 그랬어요",
        "{comp}에 몇 년 동안 돈 더 냈네요. {brand}에서 {thing} [똑같이 잘 돼요|오히려 더 좋아요]",
        "{comp}에서 {brand}로 옮기는 데 {n}분 걸렸어요. 몇 년을 미뤘는데 🙈",
        ]),
    ],
    "question": [
        only(HANDSETS, "{brand} 액정 깨진 폰도 보상판매 되나요?"),
        only(HANDSETS, "{brand} 보증이 침수도 커버하나요"),
        only(ABROAD, "{handle} 제 요금제 해외에서도 되나요? 따로 신청해야 하나요?"),
        only("airline", "{brand} 수하물이 [이틀|하루] 늦게 왔는데 지금도 보상 신청 가능한가요?"),
        only(BOOKINGS, "{brand} 취소 규정이 어떻게 되나요? 예약 전에 확인하려고요"),
        only(CONTRACTS, "{brand} 약정 중간에 해지하면 위약금 있어요"),
        only(PARCELS, "{brand} 주문한 게 파손돼서 오면 어떻게 해요? 미리 알아두려고요"),
        only(HANDSETS, "{brand}에서 물에 빠진 폰도 수리해 주는지 궁금하네요"),
    ],
    "news": [
        only(SUBSCRIBERS, "{brand}, 이번 분기 가입자 수 [정체|제자리]"),
        "{brand}, 영업이익 {n}% 감소 발표",
        "{brand}, [4월|다음 달]부터 요금 {n}% 인상",
        only(STORES, "{brand}, [{city} 매장|매장 {n}곳] [연내|여름까지] 폐점 예정"),
        "{brand}, [구 요금제|구버전 앱] 서비스 [연말|3월 말] 종료 예정",
        "{brand} {city} 구조조정 소문, 공식 발표는 아직",
        "{brand} 대표 사임, 후임은 미정",
        only(MAINTAINED, "{brand}, [오늘 밤|일요일 새벽] 정기 점검 예정"),
    ],
    "joke": [
        "{brand} 경품 추첨에서 여행 노렸는데 [열쇠고리|볼펜] 당첨 ㅋㅋ",
        only("games", "{brand} 가챠 {big}연차 돌렸는데 중복만 나옴. 가챠신이 나를 싫어함 😂"),
        only(LAUNCHES, "{city} {brand} 출시 행사 {n}시간 줄 서서 모자 하나 받아옴 ㅋㅋ"),
        "{brand} 마스코트가 손 흔들어줘서 심장 멈춤 😂",
        "{brand} 룰렛 결과: 참가상. 늘 그렇듯. 그래도 공짜니까 🙃",
        "{brand} 어드벤트 캘린더 거의 스티커였음. 그래도 애처럼 신나서 열었어요 😂",
        "{brand} 추첨 1등은 못 되고 2천 원 쿠폰 받음 ㅋㅋ 웃으면서 받아요",
        "{brand} 복권 이벤트 올해도 꽝. 이쯤 되면 전통 😂",
    ],
    "complaint_explicit": [
        only(BILLS, "{brand}로 바꾸고 요금이 오히려 올랐어요. 게다가 {issue}"),
        only(HANDSETS, "{brand} 액정 깨진 거 보증 신청했는데 {n}주 기다리게 하고 거절했어요. 어이없네요"),
    ],
    "complaint_mild": [
        only(BILLS, "아끼려고 {brand}로 바꿨는데 {issue}. 좀 후회돼요"),
        only("airline", "{brand} 수하물이 {n}일 늦게 왔는데 보상 신청에 아무도 답이 없어요. 연락 부탁드려요"),
    ],
    "complaint_sarcastic": [
        "{brand} 요금 올리는 속도는 미쳤네요. 근데 {issue} 🙃",
        "{brand} 한 가지는 진짜 잘해요. {issue} 🙃",
    ],
    "reply_complaint": [
        only(MAINTAINED, "{handle} 점검 아침까지 끝난다고 하셨잖아요. {issue}"),
    ],
    "spam": [
        "{brand} 고객님, 요금 인상분 환급 대상입니다. 여기서 확인하세요 {url}",
        "축하합니다! {brand} 창립 기념 추첨에 당첨되셨습니다 🎉 경품 받기 {url}",
    ],
}

HARD: dict[str, dict[str, list[str]]] = {"en": EN, "ja": JA, "de": DE, "fr": FR, "es": ES, "pt": PT, "ko": KO}
