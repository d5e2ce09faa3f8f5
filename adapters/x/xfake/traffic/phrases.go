package traffic

import (
	"fmt"
	"math/rand/v2"
)

// lexicon is what customers and agents write in one language. Templates
// carry the routing keywords literally; {place}, {n}, {amount} and
// {device} are filled in by the generator.
type lexicon struct {
	company  string              // the company's name, found by a brand search
	open     map[string][]string // a conversation's first post, by topic
	more     map[string][]string // the customer adds to their own post ("" = any topic but praise)
	answer   map[string][]string // the account's first answer ("" = any topic but praise)
	followUp []string            // the customer's answer to the account
	second   []string            // the account's second answer
	thanks   []string            // the customer's last word
	swear    []string
	places   []string
	devices  []string
	amount   func(*rand.Rand) string
}

var (
	angryEmoji = []string{"😡", "😭", "🤬", "💢", "🙄"}
	happyEmoji = []string{"🙏", "👍", "😊", "🎉"}
)

var handleStems = map[string][]string{
	"en": {"dave", "sarah_m", "jtravis", "emily", "mike", "alex", "chris_b", "laura", "nate", "priya", "tom_k", "jess"},
	"ja": {"haruka", "kenji", "yuki", "sato", "tanaka", "mio", "ryo", "aoi", "hiro", "nana", "shun", "mei"},
	"ko": {"minji", "jiwoo", "seojun", "hana", "kim", "park", "yuna", "dohyun", "sujin", "jihoon", "lee", "soyeon"},
}

var phrases = map[string]lexicon{
	"en": {
		company: "SoftBank",
		open: map[string][]string{
			"outage": {
				"is there an outage in {place}? nothing works since this morning",
				"outage AGAIN?? third time this week in {place}",
				"no service at all in {place} for {n} hours now",
				"no signal anywhere in {place}, is the whole network down?",
			},
			"network": {
				"my signal keeps dropping in {place}, paying for nothing",
				"reception at home in {place} is terrible since last week",
				"constant dropped calls in {place}, please fix it",
				"5G icon shows but nothing loads in {place}",
				"LTE crawling at 0.2 Mbps for {n} days now",
			},
			"wifi": {
				"my home wifi drops every {n} minutes",
				"the router you sent me keeps rebooting itself",
				"hotspot stopped working after the update",
				"wi-fi is slower than dial-up tonight, {n} devices and none can load anything",
			},
			"billing": {
				"why is my bill {amount} this month?? normally half that",
				"I was charged {amount} twice for the same month",
				"still waiting for my refund of {amount}, it's been {n} weeks",
				"overcharged again. {amount} for a plan I cancelled",
				"where do I download my invoice for last month?",
			},
			"sales": {
				"the store staff in {place} were so rude today",
				"salesperson pushed a plan I didn't want and was rude about it",
				"shop staff in {place} ignored me for {n} minutes",
			},
			"devices": {
				"my {device} battery dies by noon",
				"{device} screen went black after the update",
				"new SIM card not recognized in my {device}",
				"android phone keeps restarting since yesterday",
			},
			"praise": {
				"thank you for fixing my line so fast!",
				"love the new plan, great value",
				"the staff in {place} were awesome today",
				"thanks, everything works again",
			},
			"other": {
				"what are your opening hours on Sunday?",
				"how do I move my number to a new contract?",
				"can I change my address online?",
				"do you have a student discount?",
			},
		},
		more: map[string][]string{
			"":       {"also my neighbour has the same problem", "update: still nothing", "{n} hours now and counting", "and nobody answers the hotline"},
			"praise": {"seriously, great service", "the guy at the counter deserves a raise"},
		},
		answer: map[string][]string{
			"": {
				"Sorry to hear about this. Could you DM us your postcode so we can check the area?",
				"Thanks for reaching out. We're looking into it now and will update you shortly.",
				"We apologise for the trouble. Please send us a DM with your account number and we'll take a look.",
			},
			"praise": {
				"Thank you so much for the kind words! We'll pass them on to the team.",
				"That's great to hear, enjoy!",
			},
		},
		followUp: []string{"still not working", "DM sent", "it's been {n} hours and nothing changed", "restarted it like you said, no luck"},
		second: []string{
			"Thanks, we've got your DM. Our engineers are on it and we'll update you here.",
			"Thanks for your patience, a specialist will contact you today.",
		},
		thanks:  []string{"working again, thanks!", "ok, waiting", "appreciate the quick reply"},
		swear:   []string{"wtf", "ffs", "damn it", "this is fucking ridiculous", "absolute garbage", "bullshit."},
		places:  []string{"Shibuya", "Osaka", "Yokohama", "Sapporo", "downtown Fukuoka", "Shinjuku station"},
		devices: []string{"iPhone 15", "iPhone 13", "Pixel 8", "Galaxy S23"},
		amount:  func(r *rand.Rand) string { return fmt.Sprintf("¥%d,%03d", 3+r.IntN(20), 100*r.IntN(10)) },
	},
	"ja": {
		company: "ソフトバンク",
		open: map[string][]string{
			"outage": {
				"{place}で通信障害？朝から全然つながらない",
				"また圏外なんだけど。{place}で{n}時間も",
				"通信障害いつ直るの？仕事にならない",
				"{place}ずっと圏外。電話もできない",
			},
			"network": {
				"{place}だと電波が弱すぎる。5Gって何のため？",
				"最近電波がつながらないことが多い",
				"家の中だけ電波が入らない。{place}です",
				"電波悪すぎて通話が切れる",
			},
			"wifi": {
				"ワイファイがすぐ切れる。ルーターの再起動もした",
				"自宅のWiFiが{n}分ごとに落ちる",
				"ワイファイのルーターのランプが赤く点滅してます",
				"ワイファイのパスワードを忘れました。どうすれば？",
			},
			"billing": {
				"今月の料金が{amount}っておかしくない？",
				"請求が二重になってます。{amount}",
				"返金はいつになりますか？もう{n}週間待ってる",
				"料金プラン変えたのに請求額が同じ",
			},
			"sales": {
				"{place}のショップの店員の態度がひどかった",
				"店員に機種変更を断られた。態度悪すぎ",
				"{place}の店で{n}時間待たされた上に店員が無愛想",
			},
			"devices": {
				"{device}が故障したみたい。画面が真っ暗",
				"機種変更したらデータが消えた",
				"機種変更の予約ってどこからできますか",
				"買ったばかりの{device}が故障。交換できますか",
			},
			"praise": {
				"いつもありがとう！電話の対応が丁寧でした",
				"{place}のスタッフさん最高でした",
				"ありがとうございます、すぐ直りました",
				"対応が早くて最高",
			},
			"other": {
				"営業時間を教えてください",
				"解約の手続きってネットでできますか？",
				"住所変更はどこからできますか",
				"番号そのままで乗り換えたいです",
			},
		},
		more: map[string][]string{
			"":       {"追記：まだ直らない", "近所の人も同じ状況らしい", "{n}時間たってもダメ", "サポートに電話してもつながらない"},
			"praise": {"本当に助かりました", "また利用します"},
		},
		answer: map[string][]string{
			"": {
				"ご不便をおかけして申し訳ございません。お住まいの地域をDMでお知らせいただけますか？",
				"ご連絡ありがとうございます。状況を確認いたします。少々お待ちください。",
				"大変申し訳ございません。詳しい状況をDMでお伺いできますでしょうか。",
			},
			"praise": {
				"温かいお言葉をありがとうございます！担当者にも伝えます。",
				"お役に立てて何よりです。",
			},
		},
		followUp: []string{"まだ直ってないです", "DM送りました", "{n}時間経っても変わらない", "再起動したけどダメでした"},
		second: []string{
			"確認いたしました。現在復旧作業中です。ご迷惑をおかけしております。",
			"DMを確認しました。担当者より本日中にご連絡いたします。",
		},
		thanks:  []string{"直りました！ありがとうございます", "了解です、待ってます", "対応ありがとうございました"},
		swear:   []string{"クソ", "ふざけんな", "マジでありえない", "いい加減にしろ", "最悪かよ"},
		places:  []string{"渋谷", "大阪", "横浜", "札幌", "新宿駅", "福岡"},
		devices: []string{"iPhone 15", "iPhone 13", "Pixel 8", "Xperia"},
		amount:  func(r *rand.Rand) string { return fmt.Sprintf("%d,%03d円", 3+r.IntN(20), 100*r.IntN(10)) },
	},
	"ko": {
		company: "소프트뱅크",
		open: map[string][]string{
			"outage": {
				"{place} 지금 불통이에요? 아침부터 아무것도 안 돼요",
				"또 불통... {n}시간째 전화도 안 됨",
				"불통 언제 복구돼요? 일을 못 하고 있어요",
			},
			"network": {
				"{place}에서 신호가 너무 약해요",
				"요즘 통화품질이 너무 안 좋아요. 계속 끊겨요",
				"집 안에서만 신호가 안 잡혀요",
				"신호 때문에 통화가 자꾸 끊겨요",
			},
			"wifi": {
				"와이파이가 {n}분마다 끊겨요",
				"공유기 재부팅해도 와이파이가 안 돼요",
				"와이파이 비밀번호를 잊어버렸어요",
				"집 와이파이가 너무 느려요",
			},
			"billing": {
				"이번 달 요금이 {amount}이나 나왔어요. 말이 돼요?",
				"청구서가 두 번 왔어요",
				"환불은 언제 되나요? {n}주째 기다리는 중",
				"요금제 바꿨는데 요금이 그대로예요",
			},
			"sales": {
				"{place} 매장 직원이 너무 불친절했어요",
				"매장 직원 태도가 최악이에요",
				"직원이 설명도 안 해주고 불친절함",
			},
			"devices": {
				"{device} 배터리가 반나절도 안 가요",
				"액정이 깨졌는데 수리 되나요?",
				"산 지 {n}일 된 {device} 배터리가 이상해요",
				"액정에 줄이 생겼어요",
			},
			"praise": {
				"빠른 처리 감사합니다!",
				"상담원분 정말 친절하셨어요. 최고!",
				"문제 해결해 주셔서 감사합니다",
				"{place} 매장 서비스 최고예요",
			},
			"other": {
				"영업시간이 어떻게 되나요?",
				"번호이동 하려면 어떻게 해야 하나요?",
				"주소 변경은 어디서 하나요?",
				"해지 절차 알려주세요",
			},
		},
		more: map[string][]string{
			"":       {"추가: 아직도 안 돼요", "옆집도 똑같대요", "{n}시간째예요", "고객센터 전화도 안 받네요"},
			"praise": {"정말 도움 많이 됐어요", "또 이용할게요"},
		},
		answer: map[string][]string{
			"": {
				"불편을 드려 죄송합니다. 계신 지역을 DM으로 알려주시겠어요?",
				"연락 주셔서 감사합니다. 확인 후 바로 안내드리겠습니다.",
				"죄송합니다. 자세한 상황을 DM으로 보내주세요.",
			},
			"praise": {
				"따뜻한 말씀 감사합니다! 팀에도 전하겠습니다.",
				"도움이 되어 기쁩니다.",
			},
		},
		followUp: []string{"아직도 안 돼요", "DM 보냈어요", "{n}시간이 지났는데 그대로예요", "재부팅했는데도 안 돼요"},
		second: []string{
			"확인했습니다. 현재 복구 작업 중입니다.",
			"DM 확인했습니다. 담당자가 곧 연락드리겠습니다.",
		},
		thanks:  []string{"해결됐어요! 감사합니다", "네 기다릴게요", "답변 감사합니다"},
		swear:   []string{"진짜 짜증나", "ㅅㅂ", "개빡치네", "장난하냐", "미치겠다"},
		places:  []string{"시부야", "오사카", "신주쿠역", "후쿠오카", "요코하마"},
		devices: []string{"iPhone 15", "iPhone 13", "Galaxy S23", "Pixel 8"},
		amount:  func(r *rand.Rand) string { return fmt.Sprintf("%d만 원", 3+r.IntN(20)) },
	},
}
