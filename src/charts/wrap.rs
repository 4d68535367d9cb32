//! Text that fits its room: greedy word wrap to a pixel width, and
//! shortening with "…" as the last resort.

use plotters::coord::Shift;
use plotters::prelude::*;

/// Greedy word wrap to `max_w` pixels, at most `max_lines` lines (the last
/// one shortened with "…" if the text does not fit).
pub(super) fn wrap<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    style: &TextStyle<'_>,
    max_w: i32,
    max_lines: usize,
) -> Result<Vec<String>, DrawingAreaErrorKind<DB::ErrorType>> {
    let words: Vec<&str> = text.split_whitespace().collect();
    wrap_tokens(area, &words, " ", style, max_w, max_lines)
}

/// Greedy wrap of `tokens` joined by `joiner`; see [`wrap`].
pub(super) fn wrap_tokens<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    tokens: &[&str],
    joiner: &str,
    style: &TextStyle<'_>,
    max_w: i32,
    max_lines: usize,
) -> Result<Vec<String>, DrawingAreaErrorKind<DB::ErrorType>> {
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for token in tokens {
        let candidate = if current.is_empty() {
            token.to_string()
        } else {
            format!("{current}{joiner}{token}")
        };
        if current.is_empty() || area.estimate_text_size(candidate.trim(), style)?.0 as i32 <= max_w
        {
            current = candidate;
        } else {
            lines.push(
                std::mem::replace(&mut current, token.to_string())
                    .trim()
                    .to_string(),
            );
        }
    }
    if !current.trim().is_empty() {
        lines.push(current.trim().to_string());
    }
    if lines.len() > max_lines {
        let rest = lines.split_off(max_lines - 1).join(joiner);
        lines.push(rest);
    }
    if let Some(last) = lines.last_mut() {
        *last = fit(area, last, style, max_w)?;
    }
    Ok(lines)
}

/// `text`, shortened with "…" until it is at most `max_w` pixels wide.
pub(super) fn fit<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    style: &TextStyle<'_>,
    max_w: i32,
) -> Result<String, DrawingAreaErrorKind<DB::ErrorType>> {
    if area.estimate_text_size(text, style)?.0 as i32 <= max_w {
        return Ok(text.to_string());
    }
    let mut chars: Vec<char> = text.chars().collect();
    while !chars.is_empty() {
        chars.pop();
        let candidate: String = chars.iter().collect::<String>().trim_end().to_string() + "…";
        if area.estimate_text_size(&candidate, style)?.0 as i32 <= max_w {
            return Ok(candidate);
        }
    }
    Ok("…".to_string())
}
