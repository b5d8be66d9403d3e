//! The page's frame and its shared pieces, in maud: every value is escaped
//! by the template, so a name or a message with HTML in it is shown as text.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};
use poshuk_protocol::Band;

use super::{Lang, Staff, Text, paths};

/// The whole page around `body`: header with navigation, the language
/// switch (back to `here`) and the logout button when someone is logged in.
pub(crate) fn layout(
    lang: Lang,
    title: &str,
    staff: Option<&Staff>,
    here: &str,
    body: Markup,
) -> Markup {
    let t = |text| lang.t(text);
    let other = lang.other();
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — " (t(Text::AppName)) }
                link rel="stylesheet" href=(paths::STYLE);
            }
            body {
                a.skip href="#main" { (title) }
                header {
                    div.brand {
                        strong { (t(Text::AppName)) }
                        span.tagline { (t(Text::Tagline)) }
                    }
                    @if let Some(staff) = staff {
                        nav aria-label=(t(Text::AppName)) {
                            a href=(paths::HOME) { (t(Text::Overview)) }
                            a href=(paths::SEARCH) { (t(Text::Search)) }
                            a href=(paths::CONTACTS) { (t(Text::Contacts)) }
                            a href=(paths::OVERLAP) { (t(Text::Overlap)) }
                        }
                        div.who {
                            span { (t(Text::LoggedInAs)) " " strong { (staff.name) } }
                            form method="post" action=(paths::LOGOUT) {
                                input type="hidden" name="csrf" value=(staff.csrf);
                                button type="submit" { (t(Text::LogOut)) }
                            }
                        }
                    }
                    a.lang href={ (paths::LANG) "?to=" (other.code()) "&back=" (here) } lang=(other.code()) {
                        (t(Text::SwitchLanguage))
                    }
                }
                main id="main" tabindex="-1" {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// A page that says what went wrong and where to go, with `status`.
pub(crate) fn problem(lang: Lang, status: StatusCode, text: Text, next: Option<&str>) -> Response {
    problem_message(lang, status, lang.t(text), next)
}

/// [`problem`] with a message of its own (a coordinator's refusal).
pub(crate) fn problem_message(
    lang: Lang,
    status: StatusCode,
    message: &str,
    next: Option<&str>,
) -> Response {
    let title = lang.t(Text::SomethingFailed);
    let body = html! {
        p.problem role="alert" { (message) }
        p { a href=(next.unwrap_or(paths::HOME)) { (lang.t(Text::Back)) } }
    };
    (status, layout(lang, title, None, paths::HOME, body)).into_response()
}

/// The login page; `token` is the login form's CSRF token.
pub(crate) fn login(lang: Lang, token: &str, notice: Option<Text>) -> Markup {
    let t = |text| lang.t(text);
    let body = html! {
        @if let Some(notice) = notice {
            p.problem role="alert" { (t(notice)) }
        }
        form.card method="post" action=(paths::LOGIN) {
            input type="hidden" name="csrf" value=(token);
            label for="name" { (t(Text::UserName)) }
            input id="name" name="name" type="text" autocomplete="username" required autofocus;
            label for="password" { (t(Text::Password)) }
            input id="password" name="password" type="password" autocomplete="current-password" required;
            button type="submit" { (t(Text::LogIn)) }
        }
    };
    layout(lang, t(Text::LogIn), None, paths::LOGIN, body)
}

/// A band as a labelled badge.
pub(crate) fn band(lang: Lang, band: Band) -> Markup {
    let (class, text) = match band {
        Band::Strong => ("band strong", Text::Strong),
        Band::Possible => ("band possible", Text::Possible),
        // Never shown as the person: its own words.
        Band::Relative => {
            return html! { span class="band relative" { (lang.t(Text::PossibleRelative)) } };
        }
        Band::Weak => ("band weak", Text::Weak),
    };
    html! { span class=(class) { (lang.t(Text::Match)) ": " (lang.t(text)) } }
}

/// A one-line notice (saved, sent).
pub(crate) fn notice(lang: Lang, text: Text) -> Markup {
    html! { p.notice role="status" { (lang.t(text)) } }
}

/// The page for a form the server could not take: too large (413, "too
/// long"), or malformed (400, "expired or not from this page").
pub(crate) fn rejected(
    lang: Lang,
    rejection: &axum::extract::rejection::FormRejection,
    next: &str,
) -> Response {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        problem(
            lang,
            StatusCode::PAYLOAD_TOO_LARGE,
            Text::TooLong,
            Some(next),
        )
    } else {
        problem(lang, StatusCode::BAD_REQUEST, Text::FormExpired, Some(next))
    }
}

/// A form that carries the session's CSRF token.
pub(crate) trait CsrfForm {
    /// The token the form carried.
    fn csrf(&self) -> &str;
}

/// A submitted form, if it was read and carries this session's CSRF token;
/// otherwise the page that says why nothing was done (`back`: where to go).
pub(crate) fn accepted<T: CsrfForm>(
    lang: Lang,
    staff: &Staff,
    form: Result<axum::Form<T>, axum::extract::rejection::FormRejection>,
    back: &str,
) -> Result<T, Box<Response>> {
    let axum::Form(form) = form.map_err(|rejection| Box::new(rejected(lang, &rejection, back)))?;
    if !staff.csrf_matches(form.csrf()) {
        return Err(Box::new(problem(
            lang,
            StatusCode::FORBIDDEN,
            Text::FormExpired,
            Some(back),
        )));
    }
    Ok(form)
}
