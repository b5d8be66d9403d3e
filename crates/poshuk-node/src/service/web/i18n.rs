//! The page's two languages. Every text the page shows is a [`Text`]; the
//! reader's language comes from the `lang` cookie (set by the switch) or,
//! without it, from the browser's `Accept-Language`.

use axum::http::HeaderMap;

/// A language of the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lang {
    /// Українська.
    Uk,
    /// English.
    En,
}

impl Lang {
    /// The `lang` attribute and cookie value.
    pub(crate) fn code(self) -> &'static str {
        match self {
            Lang::Uk => "uk",
            Lang::En => "en",
        }
    }

    /// From a cookie or form value.
    pub(crate) fn parse(text: &str) -> Option<Lang> {
        match text {
            "uk" => Some(Lang::Uk),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The other language, for the switch.
    pub(crate) fn other(self) -> Lang {
        match self {
            Lang::Uk => Lang::En,
            Lang::En => Lang::Uk,
        }
    }

    /// The reader's language: the `lang` cookie, else the first of the
    /// browser's languages this page speaks, else Ukrainian.
    pub(crate) fn of(headers: &HeaderMap) -> Lang {
        if let Some(lang) = super::cookie(headers, "lang").and_then(|value| Lang::parse(&value)) {
            return lang;
        }
        let accepted = headers
            .get(axum::http::header::ACCEPT_LANGUAGE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("");
        for part in accepted.split(',') {
            let tag = part
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            let primary = tag.split('-').next().unwrap_or("");
            match primary {
                "uk" => return Lang::Uk,
                "en" => return Lang::En,
                _ => {}
            }
        }
        Lang::Uk
    }

    /// A text in this language.
    pub(crate) fn t(self, text: Text) -> &'static str {
        let (en, uk) = text.both();
        match self {
            Lang::Uk => uk,
            Lang::En => en,
        }
    }
}

macro_rules! texts {
    ($($name:ident => $en:literal, $uk:literal;)*) => {
        /// Every text of the page.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum Text { $($name,)* }

        impl Text {
            /// English and Ukrainian.
            fn both(self) -> (&'static str, &'static str) {
                match self { $(Text::$name => ($en, $uk),)* }
            }
        }

        #[cfg(test)]
        pub(crate) const ALL: &[Text] = &[$(Text::$name,)*];
    };
}

texts! {
    AppName => "poshuk", "пошук";
    Tagline => "Federated search for missing persons", "Федеративний пошук зниклих безвісти";
    SwitchLanguage => "Українською", "English";
    Overview => "Overview", "Огляд";
    Search => "Search", "Пошук";
    Contacts => "Contact requests", "Запити на контакт";
    Overlap => "Overlap", "Збіги списків";
    LogOut => "Log out", "Вийти";
    LogIn => "Log in", "Увійти";
    LoggedInAs => "Logged in as", "Ви увійшли як";
    UserName => "User name", "Ім'я користувача";
    Password => "Password", "Пароль";
    BadLogin => "The user name or password is wrong.", "Неправильне ім'я користувача або пароль.";
    TooManyLogins => "Too many failed logins. Wait a minute and try again.", "Забагато невдалих спроб. Зачекайте хвилину й спробуйте знову.";
    SessionEnded => "Your session has ended. Please log in again.", "Ваш сеанс завершився. Увійдіть знову.";
    FormExpired => "This form has expired or was not sent from this page. Nothing was changed. Open the page again and repeat.", "Ця форма застаріла або надіслана не з цієї сторінки. Нічого не змінено. Відкрийте сторінку знову й повторіть.";
    FullName => "Full name", "Повне ім'я";
    FullNameHint => "In any script: Коваленко Олександр Петрович, Kovalenko Oleksandr", "Будь-яким письмом: Коваленко Олександр Петрович, Kovalenko Oleksandr";
    OtherNames => "Other surnames (former, adoptive)", "Інші прізвища (попередні, прийомної родини)";
    OtherNamesHint => "Separated by ; — a child may be kept under the surname of a family that took them", "Через ; — дитину можуть вести під прізвищем родини, яка її взяла";
    BirthDate => "Birth date or years", "Дата або роки народження";
    BirthDateHint => "2012-03-15, 15.03.2012, 2012, 2010-2014 or ~2012", "2012-03-15, 15.03.2012, 2012, 2010-2014 або ~2012";
    BirthPlace => "Birth place", "Місце народження";
    Document => "Document number", "Номер документа";
    Sex => "Sex", "Стать";
    Unknown => "unknown", "невідомо";
    Female => "female", "жіноча";
    Male => "male", "чоловіча";
    SearchButton => "Search all partners", "Шукати в усіх партнерів";
    NeedAName => "Give a name or a document number.", "Вкажіть ім'я або номер документа.";
    OtherNamesTooMany => "At most 8 other surnames, each of at most 4 words and 100 characters.", "Не більше 8 інших прізвищ, кожне не довше 4 слів і 100 знаків.";
    Results => "Results", "Результати";
    AddMore => "A name with only a year may belong to several people: add the full birth date, the patronymic or the birth place for a surer answer.", "Ім'я лише з роком може належати кільком людям: додайте повну дату народження, по батькові або місце народження, щоб відповідь була певнішою.";
    NoHits => "No partner holds a record that matches.", "Жоден партнер не має запису, що збігається.";
    PartnersDidNotAnswer => "These partners did not answer in time; their records were not searched:", "Ці партнери не відповіли вчасно, їхні записи не переглянуто:";
    Strong => "strong", "сильний";
    Possible => "possible", "можливий";
    Weak => "weak", "слабкий";
    PossibleRelative => "Not this person: a possible relative (brother, sister or twin)", "Не ця особа: можливий родич (брат, сестра чи близнюк)";
    Match => "Match", "Збіг";
    YourRecord => "Your own record", "Ваш власний запис";
    CaseId => "Case id", "Номер справи";
    OpenCase => "Open the case", "Відкрити справу";
    PartnerContact => "Contact", "Контакт";
    NoFieldDetails => "This partner shares the band only, not which fields agreed.", "Цей партнер показує лише рівень збігу, без полів.";
    Review => "Review", "Перевірка";
    Confirmed => "confirmed", "підтверджено";
    Rejected => "rejected", "відхилено";
    ToCheck => "to be checked", "перевірити";
    Note => "Note", "Примітка";
    Save => "Save", "Зберегти";
    ReviewedBy => "Reviewed by", "Перевірено:";
    AskForContact => "Ask for contact", "Запросити контакт";
    Message => "Message", "Повідомлення";
    MessageHint => "Who you are and why you ask. The partner sees only what you write here.", "Хто ви і чому питаєте. Партнер побачить лише те, що ви тут напишете.";
    Send => "Send", "Надіслати";
    Sent => "Sent", "Надіслані";
    Received => "Received", "Отримані";
    Pending => "waiting for an answer", "очікує відповіді";
    Accepted => "accepted", "прийнято";
    Declined => "declined", "відхилено";
    Answer => "Answer", "Відповісти";
    Accept => "Accept and send contact", "Прийняти й надіслати контакт";
    Decline => "Decline", "Відхилити";
    Reply => "Contact text", "Контактні дані";
    ReplyHint => "What the asking partner may use to reach you. Nothing else is shared.", "Те, через що партнер може з вами зв'язатися. Більше нічого не передається.";
    From => "From", "Від";
    To => "To", "Кому";
    About => "About", "Щодо";
    Status => "Status", "Стан";
    When => "When", "Коли";
    NoContacts => "None yet.", "Поки немає.";
    LettersUnreadable => "Requests or replies this node's identity cannot open (sealed to another key, or damaged); they are tried again at the next visit:", "Запити чи відповіді, які ідентичність цього вузла не може відкрити (зашифровані іншим ключем або пошкоджені); наступного разу буде ще спроба:";
    CoordinatorUnreachable => "The coordinator cannot be reached: this page shows what this node kept. Try again later.", "Координатор недоступний: показано те, що зберіг цей вузол. Спробуйте пізніше.";
    Records => "Records in this node", "Записів у цьому вузлі";
    Epochs => "Key epochs served", "Епохи ключів";
    PartnersOnline => "Partners online", "Партнерів на зв'язку";
    RecentSearches => "Recent searches", "Останні пошуки";
    Hits => "hits", "збігів";
    Partial => "partial", "неповний";
    Staff => "Staff", "Працівник";
    NotFound => "Not found", "Не знайдено";
    NotYourRecord => "This is not one of your organization's records. Handles of other partners cannot be opened here.", "Це не запис вашої організації. Відкрити записи інших партнерів тут неможливо.";
    NoSuchSearch => "This search is no longer kept (after an hour, or in another account). Search again.", "Цей пошук більше не зберігається (минула година або інший обліковий запис). Шукайте знову.";
    TooLong => "The text is too long: at most 2000 characters.", "Текст задовгий: щонайбільше 2000 символів.";
    Empty => "The text is empty.", "Текст порожній.";
    SomethingFailed => "Something went wrong", "Щось пішло не так";
    Back => "Back", "Назад";
    NoPublicKey => "This partner has not registered a public key with the coordinator: contact requests cannot be sealed to it. Use its contact instead.", "Цей партнер не зареєстрував відкритий ключ у координатора: запит не можна зашифрувати. Скористайтеся його контактом.";
    ContactSent => "The request was sealed to the partner and sent.", "Запит зашифровано для партнера й надіслано.";
    AnswerSent => "Your answer was sealed and sent.", "Вашу відповідь зашифровано й надіслано.";
    GivenName => "given name", "ім'я";
    FamilyName => "family name", "прізвище";
    Patronymic => "patronymic", "по батькові";
    BirthDateField => "birth date", "дата народження";
    BirthPlaceField => "birth place", "місце народження";
    DocumentField => "document", "документ";
    LevelExact => "same", "збігається";
    LevelEquivalent => "equivalent form", "рівнозначна форма";
    LevelClose => "one letter differs", "відрізняється одна літера";
    LevelOtherName => "matches a former or other name", "збігається з попереднім або іншим іменем";
    LevelSwapped => "same, in swapped columns", "збігається, переставлені стовпці";
    LevelDayMonthSwapped => "day and month swapped", "переставлено день і місяць";
    LevelYear => "same year", "той самий рік";
    LevelOtherYear => "same day and month, other year", "той самий день і місяць, інший рік";
    LevelDayMonth => "same day and month", "той самий день і місяць";
    LevelNumberOnly => "same number, other series", "той самий номер, інша серія";
    LevelDifferent => "differs", "відрізняється";
    LevelMissing => "missing on one side", "відсутнє з одного боку";
    YourQuery => "you typed", "ви ввели";
    NamesakesOne => "the only record with this name and year at this partner", "єдиний запис із таким ім'ям і роком у цього партнера";
    NamesakesFew => "one of 2–5 records with this name and year at this partner", "один із 2–5 записів із таким ім'ям і роком у цього партнера";
    NamesakesMany => "one of more than 5 records with this name and year at this partner", "один із понад 5 записів із таким ім'ям і роком у цього партнера";
    OverlapIntro => "How many of your cases each partner also knows. Upload your case export: every case is searched across the federation, and the latest run is kept here.", "Скільки ваших справ знає кожен партнер. Завантажте експорт ваших справ: кожну справу буде знайдено у федерації, а останню звірку збережено тут.";
    OverlapUpload => "Your case export (CSV, Excel, OpenDocument or JSON lines)", "Експорт ваших справ (CSV, Excel, OpenDocument або JSON lines)";
    OverlapLimit => "At most this many cases per upload (a larger list: `poshuk overlap` on the command line):", "Щонайбільше стільки справ за раз (для більшого списку — `poshuk overlap` у командному рядку):";
    OverlapRun => "Run the overlap", "Звірити";
    OverlapDownload => "Download the per-case report (xlsx)", "Завантажити звіт за справами (xlsx)";
    OverlapNone => "No overlap has been run yet.", "Звірку ще не проводили.";
    OverlapChart => "Cases known to each partner, strong and possible", "Справи, відомі кожному партнерові: сильні та можливі збіги";
    OverlapRunning => "Running: cases searched", "Триває: знайдено справ";
    OverlapDone => "Done", "Завершено";
    OverlapInterrupted => "Interrupted (the node restarted): upload the export again", "Перервано (вузол перезапущено): завантажте експорт знову";
    OverlapStopped => "Stopped", "Зупинено";
    OverlapNotSearchable => "too little to search", "замало даних для пошуку";
    OverlapTooLarge => "The file is too large: at most 20 MB.", "Файл завеликий: щонайбільше 20 МБ.";
    OverlapTooMany => "The export has more cases than one upload may hold: run `poshuk overlap` on the command line.", "В експорті більше справ, ніж дозволено за раз: скористайтеся `poshuk overlap` у командному рядку.";
    OverlapFormat => "This file type cannot be read: upload CSV, Excel (.xlsx, .xls), OpenDocument (.ods) or JSON lines.", "Цей тип файлу не читається: завантажте CSV, Excel (.xlsx, .xls), OpenDocument (.ods) або JSON lines.";
    OverlapPartial => "Cases searched while some partners did not answer or refused (for these, no hit does not mean not known):", "Справи, під час пошуку яких деякі партнери не відповіли або відмовили (для них відсутність збігу не означає, що справа невідома):";
    OverlapBusy => "An overlap is running: wait until it is done.", "Звірка вже триває: зачекайте, доки вона завершиться.";
    OverlapSheetCases => "Cases", "Справи";
    OverlapSheetPartners => "Partners", "Партнери";
    Refresh => "Refresh", "Оновити";
    CasesRead => "Cases read", "Прочитано справ";
    RowsRejected => "Rows not read", "Не прочитано рядків";
    Partner => "Partner", "Партнер";
    New => "new", "нові";
}

/// A field's name in words.
pub(crate) fn field(lang: Lang, name: &str) -> &'static str {
    lang.t(match name {
        "given_name" => Text::GivenName,
        "family_name" => Text::FamilyName,
        "patronymic" => Text::Patronymic,
        "birth_date" => Text::BirthDateField,
        "birth_place" => Text::BirthPlaceField,
        _ => Text::DocumentField,
    })
}

/// A field's level in words.
pub(crate) fn level(lang: Lang, name: &str) -> &'static str {
    lang.t(match name {
        "exact" => Text::LevelExact,
        "equivalent" => Text::LevelEquivalent,
        "close" => Text::LevelClose,
        "other_name" => Text::LevelOtherName,
        "swapped_columns" => Text::LevelSwapped,
        "day_month_swapped" => Text::LevelDayMonthSwapped,
        "year" => Text::LevelYear,
        "other_year" => Text::LevelOtherYear,
        "day_month" => Text::LevelDayMonth,
        "number_only" => Text::LevelNumberOnly,
        "missing" => Text::LevelMissing,
        _ => Text::LevelDifferent,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_text_exists_in_both_languages() {
        for text in ALL {
            let (en, uk) = text.both();
            assert!(!en.is_empty() && !uk.is_empty(), "{text:?}");
            // A Ukrainian text that is the English one was not translated
            // (the app's name is the one exception that differs anyway).
            assert_ne!(en, uk, "{text:?} is not translated");
        }
    }

    #[test]
    fn the_browser_language_is_the_default_and_the_cookie_wins() {
        let mut headers = HeaderMap::new();
        headers.insert("accept-language", "en-GB,en;q=0.9".parse().expect("header"));
        assert_eq!(Lang::of(&headers), Lang::En);
        headers.insert("accept-language", "de,uk;q=0.8".parse().expect("header"));
        assert_eq!(Lang::of(&headers), Lang::Uk);
        headers.insert("cookie", "x=1; lang=en".parse().expect("header"));
        assert_eq!(Lang::of(&headers), Lang::En);
        assert_eq!(Lang::of(&HeaderMap::new()), Lang::Uk);
    }
}
