//! The console's message catalogues: one TOML file of keys and texts per language
//! (`i18n/en.toml`, `ru`, `lv`, `et`), embedded in the binary. Every page takes its
//! words from here; a test checks that the catalogues have the same keys.

use std::collections::HashMap;
use std::sync::OnceLock;

use loyd_domain::said::Said;

/// A language the console speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Ru,
    Lv,
    Et,
}

impl Lang {
    pub const ALL: [Lang; 4] = [Lang::En, Lang::Ru, Lang::Lv, Lang::Et];

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ru => "ru",
            Lang::Lv => "lv",
            Lang::Et => "et",
        }
    }

    pub fn parse(code: &str) -> Option<Lang> {
        let code = code.trim().get(..2)?.to_ascii_lowercase();
        Lang::ALL.into_iter().find(|l| l.code() == code)
    }

    /// The first language of an `Accept-Language` header the console speaks.
    pub fn from_accept(header: &str) -> Option<Lang> {
        header.split(',').filter_map(|part| Lang::parse(part.split(';').next().unwrap_or_default())).next()
    }

    /// The texts of the domain's messages ([`loyd_domain::said`]) in this language;
    /// English has them in the domain.
    fn said_source(self) -> &'static str {
        match self {
            Lang::En => "",
            Lang::Ru => include_str!("i18n/said.ru.toml"),
            Lang::Lv => include_str!("i18n/said.lv.toml"),
            Lang::Et => include_str!("i18n/said.et.toml"),
        }
    }

    fn source(self) -> &'static str {
        match self {
            Lang::En => include_str!("i18n/en.toml"),
            Lang::Ru => include_str!("i18n/ru.toml"),
            Lang::Lv => include_str!("i18n/lv.toml"),
            Lang::Et => include_str!("i18n/et.toml"),
        }
    }

    /// This language's words.
    pub fn words(self) -> &'static Catalogue {
        static ALL: OnceLock<Vec<Catalogue>> = OnceLock::new();
        let all = ALL.get_or_init(|| Lang::ALL.into_iter().map(Catalogue::load).collect());
        &all[Lang::ALL.iter().position(|l| *l == self).unwrap_or(0)]
    }
}

impl Lang {
    /// An amount written as this language writes numbers: `1,234.50` in English,
    /// `1 234,50` (with no-break spaces) in Russian, Latvian and Estonian.
    pub fn number(self, text: &str) -> String {
        let (sign, digits) = text.strip_prefix('-').map_or(("", text), |d| ("-", d));
        let (whole, frac) = digits.split_once('.').map_or((digits, None), |(w, f)| (w, Some(f)));
        let (group, point) = match self {
            Lang::En => (",", "."),
            Lang::Ru | Lang::Lv | Lang::Et => ("\u{a0}", ","),
        };
        let mut out = String::from(sign);
        for (i, c) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i) % 3 == 0 {
                out.push_str(group);
            }
            out.push(c);
        }
        if let Some(f) = frac {
            out.push_str(point);
            out.push_str(f);
        }
        out
    }

    /// A day (of a chart, a list) as this language writes it: `Dec 5`, `05.12.`.
    pub fn day(self, date: jiff::civil::Date) -> String {
        const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
        match self {
            Lang::En => format!("{} {}", MONTHS[usize::from(date.month().unsigned_abs()) - 1], date.day()),
            Lang::Ru | Lang::Lv | Lang::Et => format!("{:02}.{:02}.", date.day(), date.month()),
        }
    }

    /// A date with its year, as this language writes it: `Dec 5, 2026`, `05.12.2026`.
    pub fn date(self, date: jiff::civil::Date) -> String {
        match self {
            Lang::En => format!("{}, {}", self.day(date), date.year()),
            Lang::Ru | Lang::Lv | Lang::Et => format!("{}{}", self.day(date), date.year()),
        }
    }

    /// A moment in UTC as pages show it: its [`Lang::day`] and the time, `time` being a
    /// `strftime` format (`%H:%M`, `%H:%M:%S`): `Dec 5 08:15 UTC`.
    pub fn moment(self, at: jiff::Timestamp, time: &str) -> String {
        format!("{} {} UTC", self.day(at.to_zoned_datetime(jiff::tz::TimeZone::UTC).date()), at.strftime(time))
    }
}

/// The texts of one language by key.
#[derive(Debug)]
pub struct Catalogue {
    pub lang: Lang,
    texts: HashMap<String, String>,
    /// The domain's messages by key, and the words `{what}` stands for (`what.card`).
    said: HashMap<String, String>,
}

impl Catalogue {
    fn load(lang: Lang) -> Catalogue {
        // The files are part of the binary and checked by the tests: a broken one is a
        // build defect, not a run-time condition.
        let parse = |source: &str| -> HashMap<String, String> {
            toml::from_str(source).unwrap_or_else(|e| panic!("the {} catalogue does not parse: {e}", lang.code()))
        };
        Catalogue { lang, texts: parse(lang.source()), said: parse(lang.said_source()) }
    }

    /// A message of the domain in this language: its text here (English: the domain's)
    /// with its values filled in, a `{what}` by this language's word for it.
    pub fn say(&self, said: &Said) -> String {
        let template = match self.lang {
            Lang::En => Said::template(said.key),
            _ => self.said.get(said.key).map(String::as_str).or_else(|| Said::template(said.key)),
        };
        said.fill(template.unwrap_or(said.key), |name, value| match name {
            "what" => self.said.get(&format!("what.{}", value.replace('_', " "))).cloned().unwrap_or_else(|| value.to_owned()),
            _ => value.to_owned(),
        })
    }

    /// A message of the domain as it comes in an API answer (`kind`, `args`), in this
    /// language; `None` for a kind the domain does not have.
    pub fn say_kind(&self, kind: &str, args: &serde_json::Map<String, serde_json::Value>) -> Option<String> {
        let (key, _, names) = loyd_domain::said::TEXTS.iter().find(|(k, ..)| *k == kind)?;
        let args = names
            .iter()
            .filter_map(|name| {
                let v = args.get(*name)?;
                Some((*name, v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
            })
            .collect();
        Some(self.say(&Said { key, args }))
    }

    /// The text of `key`; the key itself when it is missing (the tests make sure none is).
    pub fn get<'a>(&'a self, key: &'a str) -> &'a str {
        self.texts.get(key).map_or(key, String::as_str)
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.texts.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn every_catalogue_has_the_same_keys_and_no_empty_text() {
        let english: BTreeSet<&str> = Lang::En.words().keys().collect();
        assert!(english.len() >= 10);
        for lang in Lang::ALL {
            let words = lang.words();
            let keys: BTreeSet<&str> = words.keys().collect();
            assert_eq!(keys, english, "{} has other keys than en", lang.code());
            for k in keys {
                assert!(!words.get(k).trim().is_empty(), "{}: {k} is empty", lang.code());
            }
        }
        assert_ne!(Lang::Ru.words().get("login.title"), Lang::En.words().get("login.title"));
    }

    #[test]
    fn every_language_says_every_message_of_the_domain_with_the_same_values() {
        use loyd_domain::said::{TEXTS, WORDS};
        let expected: BTreeSet<String> =
            TEXTS.iter().map(|(k, ..)| (*k).to_owned()).chain(WORDS.iter().map(|w| format!("what.{w}"))).collect();
        for lang in [Lang::Ru, Lang::Lv, Lang::Et] {
            let said = &lang.words().said;
            let keys: BTreeSet<String> = said.keys().cloned().collect();
            assert_eq!(keys, expected, "{}: the domain's messages and this catalogue differ", lang.code());
            for (key, english, _) in TEXTS {
                let mut want = Said::placeholders(english);
                let mut have = Said::placeholders(&said[*key]);
                want.sort_unstable();
                want.dedup();
                have.sort_unstable();
                have.dedup();
                assert_eq!(have, want, "{}: {key} has other values than the English text", lang.code());
            }
        }
    }

    #[test]
    fn a_message_of_the_domain_is_said_in_the_language_with_its_words() {
        let twice = loyd_domain::said::defined_twice("card_series", "gold");
        assert_eq!(Lang::En.words().say(&twice), "card_series 'gold' is defined twice");
        assert_eq!(Lang::Ru.words().say(&twice), "описано дважды: серия карт «gold»; оставьте одно описание");
        let args = serde_json::json!({ "what": "customer", "id": "c1" });
        assert_eq!(Lang::Lv.words().say_kind("not_found", args.as_object().unwrap()).as_deref(), Some("nepastāv: pircējs „c1“"));
        assert_eq!(Lang::Et.words().say_kind("no_such_kind", args.as_object().unwrap()), None);
    }

    #[test]
    fn numbers_and_days_are_written_as_each_language_writes_them() {
        assert_eq!(Lang::En.number("1234567.50"), "1,234,567.50");
        assert_eq!(Lang::Ru.number("-1234.5"), "-1\u{a0}234,5");
        assert_eq!(Lang::Lv.number("12"), "12");
        let d = jiff::civil::date(2026, 12, 5);
        assert_eq!((Lang::En.day(d), Lang::Et.day(d)), ("Dec 5".to_owned(), "05.12.".to_owned()));
    }

    #[test]
    fn the_language_comes_from_the_first_one_the_browser_asks_for_that_we_speak() {
        assert_eq!(Lang::from_accept("de-DE,de;q=0.9,ru;q=0.8,en;q=0.5"), Some(Lang::Ru));
        assert_eq!(Lang::from_accept("lv"), Some(Lang::Lv));
        assert_eq!(Lang::from_accept("fr, de"), None);
        assert_eq!(Lang::parse("ET-ee"), Some(Lang::Et));
    }
}
