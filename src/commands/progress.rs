//! Progress bars on the terminal (indicatif), one style for every command.

use indicatif::{ProgressBar, ProgressStyle};

/// A bar of `length` steps labelled `what`, with rate and time left.
pub(crate) fn progress_bar(length: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(length);
    let template = format!("{what} {{bar:40}} {{pos}}/{{len}} {{per_sec}} eta {{eta}}");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    bar
}
