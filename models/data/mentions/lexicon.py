"""Slot fillers of the mention corpus: fictional brands, and per language and industry the products, problems and cities."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Brand:
    """A fictional brand: its Latin name, Japanese (katakana) name and social handle."""

    latin: str
    katakana: str

    @property
    def slug(self) -> str:
        """Lower-case letters and digits of the Latin name."""
        return re.sub(r"[^a-z0-9]", "", self.latin.lower())

    @property
    def handle(self) -> str:
        """The brand's account, e.g. @nimbusmobile."""
        return "@" + self.slug

    def name(self, language: str) -> str:
        """How a post in `language` writes the brand."""
        return self.katakana if language == "ja" else self.latin


# Four invented brands per industry: the first two appear only in train, the third only in val, the fourth only in test.
INDUSTRIES: dict[str, tuple[Brand, ...]] = {
    "telecom": (Brand("Nimbus Mobile", "ニンバスモバイル"), Brand("Vexa Telecom", "ヴェクサテレコム"),
                Brand("Orlo Net", "オルロネット"), Brand("Kestrel Mobile", "ケストレルモバイル")),
    "airline": (Brand("Skyvane Air", "スカイベーン航空"), Brand("Albatra Airways", "アルバトラ航空"),
                Brand("Corvo Air", "コルボエア"), Brand("Lumen Airlines", "ルーメン航空")),
    "retail": (Brand("Brindle Store", "ブリンドルストア"), Brand("Quillo Mart", "キロマート"),
               Brand("Pemberly Shop", "ペンバリーショップ"), Brand("Zaffre Home", "ザッフルホーム")),
    "bank": (Brand("Harborcrest Bank", "ハーバークレスト銀行"), Brand("Finvale Bank", "フィンベール銀行"),
             Brand("Ostro Bank", "オストロ銀行"), Brand("Nordel Bank", "ノーデル銀行")),
    "food_delivery": (Brand("Dashly Eats", "ダッシュリーイーツ"), Brand("Rappo Food", "ラッポフード"),
                      Brand("Grubwing", "グラブウィング"), Brand("Yumbolt", "ヤムボルト")),
    "software": (Brand("Cloudnook", "クラウドヌーク"), Brand("Taskivo", "タスキボ"),
                 Brand("Pixelda", "ピクセルダ"), Brand("Notara", "ノタラ")),
    "games": (Brand("Emberfall Games", "エンバーフォールゲームズ"), Brand("Starkite", "スターカイト"),
              Brand("Quasar Play", "クエーサープレイ"), Brand("Mossgate Games", "モスゲートゲームズ")),
    "utilities": (Brand("Brightwatt Energy", "ブライトワット電力"), Brand("Aquavera Water", "アクアベラ水道"),
                  Brand("Voltara Power", "ボルタラ電力"), Brand("Gasline One", "ガスラインワン")),
    "hotels": (Brand("Restwell Hotels", "レストウェルホテル"), Brand("Azure Pines Hotel", "アジュールパインズホテル"),
               Brand("Calloway Inn", "キャロウェイイン"), Brand("Linden Suites", "リンデンスイーツ")),
}


def brands(industry: str, split: str | None) -> tuple[Brand, ...]:
    """Brands of `industry` used in `split` (None: all four, e.g. for competitors)."""
    every = INDUSTRIES[industry]
    if split is None:
        return every
    return {"train": every[:2], "val": every[2:3], "test": every[3:4]}[split]


URLS = ("https://{slug}.example/deal", "http://bit.example/{slug}7", "https://win-{slug}.example/free", "https://promo.example/{slug}")

CITIES: dict[str, tuple[str, ...]] = {
    "en": ("Leeds", "Bristol", "Denver", "Toronto", "Manchester", "Austin", "Dublin", "Perth"),
    "ja": ("大阪", "札幌", "福岡", "名古屋", "横浜", "仙台", "京都", "神戸"),
    "de": ("Hamburg", "Köln", "Leipzig", "Bremen", "Graz", "Zürich", "Dresden"),
    "fr": ("Lyon", "Nantes", "Lille", "Bordeaux", "Genève", "Rennes", "Toulouse"),
    "es": ("Sevilla", "Valencia", "Bilbao", "Rosario", "Quito", "Málaga", "Zaragoza"),
    "pt": ("Porto", "Recife", "Curitiba", "Coimbra", "Salvador", "Braga", "Fortaleza"),
    "ko": ("부산", "대구", "인천", "광주", "대전", "수원", "울산"),
}

# language -> industry -> {"thing": product/service noun phrases, "issue": problem clauses, "prob": problem noun phrases}
WORDS: dict[str, dict[str, dict[str, tuple[str, ...]]]] = {
    "en": {
        "telecom": {"thing": ("the 5G", "the home broadband", "the eSIM setup", "the signal"),
                    "issue": ("my data has been dead since Monday", "calls keep dropping every few minutes",
                              "the broadband goes down every evening", "I got charged roaming fees at home"),
                    "prob": ("the billing error", "the signal outage", "the SIM activation problem")},
        "airline": {"thing": ("the app check-in", "the cabin crew", "the legroom", "the boarding"),
                    "issue": ("my bag didn't arrive", "my flight got cancelled with no notice",
                              "I was stuck at the gate for four hours", "my seat was given away"),
                    "prob": ("the lost bag", "the refund for my cancelled flight", "the booking mix-up")},
        "retail": {"thing": ("the click and collect", "the online shop", "the returns desk", "the self-checkout"),
                   "issue": ("my order never showed up", "they sent me the wrong size twice",
                             "the refund still hasn't landed", "the parcel came smashed"),
                   "prob": ("the missing parcel", "the wrong item", "the refund delay")},
        "bank": {"thing": ("the banking app", "the card payments", "the branch staff", "instant transfers"),
                 "issue": ("my card got blocked for no reason", "the app logs me out every time",
                           "a transfer vanished from my account", "I was charged a fee twice"),
                 "prob": ("the blocked card", "the double charge", "the missing transfer")},
        "food_delivery": {"thing": ("the delivery", "the rider", "the app", "the tracking"),
                          "issue": ("my food arrived cold", "half my order was missing",
                                    "the rider never turned up", "I got someone else's order"),
                          "prob": ("the missing order", "the cold food refund", "the wrong order")},
        "software": {"thing": ("the new update", "the sync", "the desktop app", "the search"),
                     "issue": ("the app crashes on startup", "sync ate my notes",
                               "I can't log in since the update", "it keeps freezing on save"),
                     "prob": ("the login bug", "the sync bug", "the crash on startup")},
        "games": {"thing": ("the new season", "matchmaking", "the servers", "the patch"),
                  "issue": ("the servers are down again", "I lost my save after the patch",
                            "the game crashes every match", "my purchase never showed up"),
                  "prob": ("the lost save", "the missing purchase", "the crash bug")},
        "utilities": {"thing": ("the smart meter", "the app", "the tariff", "the power"),
                      "issue": ("my bill doubled for no reason", "we've had no power since noon",
                                "the meter readings are wrong again", "there's no hot water again"),
                      "prob": ("the billing mistake", "the outage", "the meter fault")},
        "hotels": {"thing": ("the room", "the breakfast", "the front desk", "the pool"),
                   "issue": ("our room wasn't cleaned all week", "the AC didn't work at all",
                             "they lost our booking", "the wifi in the room never worked"),
                   "prob": ("the booking mix-up", "the broken AC", "the overcharge")},
    },
    "ja": {
        "telecom": {"thing": ("5G", "光回線", "eSIMの設定", "電波"),
                    "issue": ("月曜からずっと電波が入らない", "通話が数分おきに切れる", "夜になると回線が落ちる", "国内なのにローミング料金を請求された"),
                    "prob": ("請求ミス", "通信障害", "SIMの開通トラブル")},
        "airline": {"thing": ("アプリのチェックイン", "客室乗務員の対応", "座席の広さ", "搭乗手続き"),
                    "issue": ("預けた荷物が届かない", "連絡なしで便が欠航になった", "ゲートで4時間待たされた", "予約した座席が勝手に変更された"),
                    "prob": ("荷物の紛失", "欠航便の払い戻し", "予約の手違い")},
        "retail": {"thing": ("店舗受け取り", "ネットショップ", "返品対応", "セルフレジ"),
                   "issue": ("注文した商品が届かない", "二回もサイズ違いが届いた", "返金がまだ振り込まれない", "箱がつぶれて届いた"),
                   "prob": ("届かなかった荷物", "商品の間違い", "返金の遅れ")},
        "bank": {"thing": ("アプリ", "カード決済", "窓口の対応", "振込"),
                 "issue": ("理由もなくカードが止められた", "アプリが毎回ログアウトする", "振込が口座から消えた", "手数料を二重に取られた"),
                 "prob": ("カードの停止", "二重引き落とし", "振込の不明金")},
        "food_delivery": {"thing": ("配達", "配達員さん", "アプリ", "配達状況の表示"),
                          "issue": ("料理が冷めて届いた", "注文の半分が入ってなかった", "配達員が来なかった", "他の人の注文が届いた"),
                          "prob": ("届かなかった注文", "冷めた料理の返金", "注文の取り違え")},
        "software": {"thing": ("新しいアップデート", "同期", "デスクトップ版", "検索"),
                     "issue": ("起動するとすぐ落ちる", "同期でメモが消えた", "アップデート後ログインできない", "保存のたびに固まる"),
                     "prob": ("ログインの不具合", "同期の不具合", "起動時のクラッシュ")},
        "games": {"thing": ("新シーズン", "マッチング", "サーバー", "今回のパッチ"),
                  "issue": ("またサーバーが落ちてる", "パッチ後にセーブデータが消えた", "毎試合落ちる", "課金したアイテムが届かない"),
                  "prob": ("消えたセーブデータ", "未反映の課金", "落ちる不具合")},
        "utilities": {"thing": ("スマートメーター", "アプリ", "料金プラン", "電気"),
                      "issue": ("請求額が理由もなく倍になった", "昼から停電してる", "検針の数字がまた間違ってる", "またお湯が出ない"),
                      "prob": ("請求の間違い", "停電", "メーターの故障")},
        "hotels": {"thing": ("部屋", "朝食", "フロントの対応", "プール"),
                   "issue": ("一週間部屋が掃除されなかった", "エアコンが全く効かなかった", "予約が消えていた", "部屋のWi-Fiが一度もつながらなかった"),
                   "prob": ("予約の手違い", "壊れたエアコン", "過剰請求")},
    },
    "de": {
        "telecom": {"thing": ("das 5G", "das Festnetz-Internet", "die eSIM-Einrichtung"),
                    "issue": ("mein Internet ist seit Montag weg", "Anrufe brechen ständig ab", "das WLAN fällt jeden Abend aus"),
                    "prob": ("der Abrechnungsfehler", "die Netzstörung")},
        "airline": {"thing": ("der Online-Check-in", "die Crew", "das Boarding"),
                    "issue": ("mein Koffer ist nicht angekommen", "mein Flug wurde ohne Info gestrichen", "wir saßen vier Stunden am Gate fest"),
                    "prob": ("der verlorene Koffer", "die Erstattung für den gestrichenen Flug")},
        "retail": {"thing": ("der Onlineshop", "die Abholung im Markt", "der Kundenservice"),
                   "issue": ("meine Bestellung ist nie angekommen", "sie haben zweimal die falsche Größe geschickt", "das Paket kam kaputt an"),
                   "prob": ("das fehlende Paket", "die falsche Lieferung")},
        "bank": {"thing": ("die Banking-App", "die Kartenzahlung", "die Echtzeitüberweisung"),
                 "issue": ("meine Karte wurde grundlos gesperrt", "die App loggt mich ständig aus", "mir wurde eine Gebühr doppelt abgebucht"),
                 "prob": ("die gesperrte Karte", "die doppelte Abbuchung")},
        "food_delivery": {"thing": ("die Lieferung", "der Fahrer", "die App"),
                          "issue": ("das Essen kam kalt an", "die Hälfte der Bestellung fehlte", "der Fahrer ist nie gekommen"),
                          "prob": ("die fehlende Bestellung", "die falsche Bestellung")},
        "software": {"thing": ("das neue Update", "die Synchronisierung", "die Desktop-App"),
                     "issue": ("die App stürzt beim Start ab", "die Synchronisierung hat meine Notizen gelöscht", "seit dem Update kann ich mich nicht anmelden"),
                     "prob": ("der Login-Fehler", "der Sync-Fehler")},
        "games": {"thing": ("die neue Season", "das Matchmaking", "der Patch"),
                  "issue": ("die Server sind schon wieder down", "mein Spielstand ist nach dem Patch weg", "mein Kauf wurde nie gutgeschrieben"),
                  "prob": ("der verlorene Spielstand", "der fehlende Kauf")},
        "utilities": {"thing": ("der Smart Meter", "der Tarif", "die App"),
                      "issue": ("meine Rechnung hat sich grundlos verdoppelt", "wir haben seit Mittag keinen Strom", "die Zählerstände sind schon wieder falsch"),
                      "prob": ("der Rechnungsfehler", "der Stromausfall")},
        "hotels": {"thing": ("das Zimmer", "das Frühstück", "die Rezeption"),
                   "issue": ("unser Zimmer wurde die ganze Woche nicht geputzt", "die Klimaanlage ging gar nicht", "sie haben unsere Buchung verloren"),
                   "prob": ("die verlorene Buchung", "die kaputte Klimaanlage")},
    },
    "fr": {
        "telecom": {"thing": ("la 5G", "la box internet", "l'activation de l'eSIM"),
                    "issue": ("je n'ai plus de réseau depuis lundi", "les appels coupent sans arrêt", "la box plante tous les soirs"),
                    "prob": ("le problème de facturation", "le problème de réseau")},
        "airline": {"thing": ("l'enregistrement en ligne", "l'équipage", "l'embarquement"),
                    "issue": ("ma valise n'est jamais arrivée", "mon vol a été annulé sans prévenir", "on est restés bloqués quatre heures à la porte"),
                    "prob": ("le problème de bagage", "le remboursement de mon vol annulé")},
        "retail": {"thing": ("le site", "le retrait en magasin", "le service client"),
                   "issue": ("ma commande n'est jamais arrivée", "ils m'ont envoyé deux fois la mauvaise taille", "le colis est arrivé écrasé"),
                   "prob": ("le problème de livraison", "le remboursement")},
        "bank": {"thing": ("l'appli bancaire", "le paiement sans contact", "le virement instantané"),
                 "issue": ("ma carte a été bloquée sans raison", "l'appli me déconnecte tout le temps", "on m'a prélevé des frais deux fois"),
                 "prob": ("le blocage de ma carte", "le double prélèvement")},
        "food_delivery": {"thing": ("la livraison", "le livreur", "l'appli"),
                          "issue": ("mon repas est arrivé froid", "la moitié de la commande manquait", "le livreur n'est jamais venu"),
                          "prob": ("le problème de commande", "le remboursement du repas froid")},
        "software": {"thing": ("la nouvelle mise à jour", "la synchro", "l'appli desktop"),
                     "issue": ("l'appli plante au démarrage", "la synchro a effacé mes notes", "je ne peux plus me connecter depuis la mise à jour"),
                     "prob": ("le bug de connexion", "le bug de synchro")},
        "games": {"thing": ("la nouvelle saison", "le matchmaking", "le patch"),
                  "issue": ("les serveurs sont encore tombés", "j'ai perdu ma sauvegarde après le patch", "mon achat n'est jamais apparu"),
                  "prob": ("le problème de sauvegarde", "le bug d'achat")},
        "utilities": {"thing": ("le compteur connecté", "l'offre", "l'appli"),
                      "issue": ("ma facture a doublé sans raison", "on n'a plus d'électricité depuis midi", "les relevés du compteur sont encore faux"),
                      "prob": ("le problème de facture", "le problème de compteur")},
        "hotels": {"thing": ("la chambre", "le petit-déjeuner", "l'accueil"),
                   "issue": ("notre chambre n'a pas été nettoyée de la semaine", "la clim ne marchait pas du tout", "ils ont perdu notre réservation"),
                   "prob": ("le problème de réservation", "le problème de clim")},
    },
    "es": {
        "telecom": {"thing": ("el 5G", "la fibra", "la activación de la eSIM"),
                    "issue": ("no tengo datos desde el lunes", "las llamadas se cortan a cada rato", "la fibra se cae todas las noches"),
                    "prob": ("el problema de facturación", "el problema de cobertura")},
        "airline": {"thing": ("el check-in online", "la tripulación", "el embarque"),
                    "issue": ("mi maleta no llegó", "cancelaron mi vuelo sin avisar", "estuvimos cuatro horas atrapados en la puerta"),
                    "prob": ("el problema con mi maleta", "el reembolso del vuelo cancelado")},
        "retail": {"thing": ("la tienda online", "la recogida en tienda", "la atención al cliente"),
                   "issue": ("mi pedido nunca llegó", "me mandaron dos veces la talla equivocada", "el paquete llegó destrozado"),
                   "prob": ("el problema con el envío", "el reembolso")},
        "bank": {"thing": ("la app del banco", "el pago con tarjeta", "las transferencias inmediatas"),
                 "issue": ("me bloquearon la tarjeta sin motivo", "la app me cierra la sesión todo el tiempo", "me cobraron una comisión dos veces"),
                 "prob": ("el bloqueo de la tarjeta", "el cobro duplicado")},
        "food_delivery": {"thing": ("la entrega", "el repartidor", "la app"),
                          "issue": ("la comida llegó fría", "faltaba la mitad del pedido", "el repartidor nunca apareció"),
                          "prob": ("el problema con el pedido", "el reembolso del pedido")},
        "software": {"thing": ("la nueva actualización", "la sincronización", "la app de escritorio"),
                     "issue": ("la app se cierra al abrirla", "la sincronización borró mis notas", "no puedo iniciar sesión desde la actualización"),
                     "prob": ("el fallo de inicio de sesión", "el fallo de sincronización")},
        "games": {"thing": ("la nueva temporada", "el emparejamiento", "el parche"),
                  "issue": ("los servidores están caídos otra vez", "perdí mi partida guardada con el parche", "mi compra nunca apareció"),
                  "prob": ("el problema con mi partida", "el fallo de la compra")},
        "utilities": {"thing": ("el contador inteligente", "la tarifa", "la app"),
                      "issue": ("mi factura se duplicó sin motivo", "llevamos sin luz desde el mediodía", "las lecturas del contador vuelven a estar mal"),
                      "prob": ("el error en la factura", "el corte de luz")},
        "hotels": {"thing": ("la habitación", "el desayuno", "la recepción"),
                   "issue": ("no limpiaron la habitación en toda la semana", "el aire acondicionado no funcionaba", "perdieron nuestra reserva"),
                   "prob": ("el problema con la reserva", "el problema del aire acondicionado")},
    },
    "pt": {
        "telecom": {"thing": ("o 5G", "a fibra", "a ativação do eSIM"),
                    "issue": ("estou sem internet desde segunda", "as chamadas caem toda hora", "a fibra cai toda noite"),
                    "prob": ("o problema na fatura", "o problema de sinal")},
        "airline": {"thing": ("o check-in online", "a tripulação", "o embarque"),
                    "issue": ("minha mala não chegou", "cancelaram meu voo sem aviso", "ficamos quatro horas presos no portão"),
                    "prob": ("o problema com a mala", "o reembolso do voo cancelado")},
        "retail": {"thing": ("a loja online", "a retirada na loja", "o atendimento"),
                   "issue": ("meu pedido nunca chegou", "mandaram o tamanho errado duas vezes", "a encomenda chegou amassada"),
                   "prob": ("o problema na entrega", "o reembolso")},
        "bank": {"thing": ("o app do banco", "o pagamento por aproximação", "o Pix"),
                 "issue": ("bloquearam meu cartão sem motivo", "o app me desloga toda hora", "cobraram uma tarifa duas vezes"),
                 "prob": ("o bloqueio do cartão", "o problema da cobrança duplicada")},
        "food_delivery": {"thing": ("a entrega", "o entregador", "o app"),
                          "issue": ("a comida chegou fria", "veio metade do pedido", "o entregador nunca apareceu"),
                          "prob": ("o problema com o pedido", "o reembolso do pedido")},
        "software": {"thing": ("a nova atualização", "a sincronização", "o app desktop"),
                     "issue": ("o app fecha sozinho ao abrir", "a sincronização apagou minhas notas", "não consigo entrar desde a atualização"),
                     "prob": ("o bug de login", "o bug de sincronização")},
        "games": {"thing": ("a nova temporada", "o matchmaking", "o patch"),
                  "issue": ("os servidores caíram de novo", "perdi meu save depois do patch", "minha compra nunca apareceu"),
                  "prob": ("o problema do save", "o bug da compra")},
        "utilities": {"thing": ("o medidor inteligente", "a tarifa", "o app"),
                      "issue": ("minha conta dobrou sem motivo", "estamos sem luz desde o meio-dia", "a leitura do medidor veio errada de novo"),
                      "prob": ("o erro na conta", "o problema do medidor")},
        "hotels": {"thing": ("o quarto", "o café da manhã", "a recepção"),
                   "issue": ("nosso quarto não foi limpo a semana toda", "o ar-condicionado não funcionava", "perderam nossa reserva"),
                   "prob": ("o problema da reserva", "o problema do ar-condicionado")},
    },
    "ko": {
        "telecom": {"thing": ("5G", "인터넷", "eSIM 개통"),
                    "issue": ("월요일부터 데이터가 안 터져요", "통화가 몇 분마다 끊겨요", "밤마다 인터넷이 끊겨요"),
                    "prob": ("요금 청구 오류", "통신 장애")},
        "airline": {"thing": ("모바일 체크인", "승무원 서비스", "탑승 수속"),
                    "issue": ("부친 짐이 안 왔어요", "아무 연락 없이 비행기가 결항됐어요", "게이트에서 네 시간을 기다렸어요"),
                    "prob": ("분실된 짐", "결항 환불")},
        "retail": {"thing": ("온라인몰", "매장 픽업", "반품 처리"),
                   "issue": ("주문한 물건이 아직도 안 왔어요", "사이즈를 두 번이나 잘못 보냈어요", "택배 상자가 찌그러져서 왔어요"),
                   "prob": ("배송 누락", "환불 지연")},
        "bank": {"thing": ("뱅킹 앱", "카드 결제", "이체"),
                 "issue": ("이유 없이 카드가 정지됐어요", "앱이 계속 로그아웃돼요", "수수료가 두 번 빠져나갔어요"),
                 "prob": ("카드 정지 문제", "이중 출금")},
        "food_delivery": {"thing": ("배달", "라이더님", "앱"),
                          "issue": ("음식이 다 식어서 왔어요", "주문한 것의 절반이 빠졌어요", "라이더가 끝내 안 왔어요"),
                          "prob": ("누락된 주문", "잘못 온 주문")},
        "software": {"thing": ("새 업데이트", "동기화", "데스크톱 앱"),
                     "issue": ("앱이 켜자마자 꺼져요", "동기화하다가 메모가 다 날아갔어요", "업데이트 후로 로그인이 안 돼요"),
                     "prob": ("로그인 버그", "동기화 버그")},
        "games": {"thing": ("새 시즌", "매칭", "이번 패치"),
                  "issue": ("서버가 또 터졌어요", "패치 후에 세이브가 날아갔어요", "결제한 아이템이 안 들어왔어요"),
                  "prob": ("세이브 삭제 문제", "결제 미지급 문제")},
        "utilities": {"thing": ("스마트 계량기", "요금제", "앱"),
                      "issue": ("요금이 이유 없이 두 배로 나왔어요", "점심부터 정전이에요", "검침 수치가 또 틀렸어요"),
                      "prob": ("요금 오류", "정전")},
        "hotels": {"thing": ("객실", "조식", "프런트 응대"),
                   "issue": ("일주일 내내 방 청소를 안 해줬어요", "에어컨이 전혀 안 됐어요", "예약이 사라져 있었어요"),
                   "prob": ("예약 오류", "고장 난 에어컨")},
    },
}
