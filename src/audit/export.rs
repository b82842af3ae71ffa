//! Export formats: JSON lines (every stored field, hashes in hex, so the chain can be
//! re-verified from the file alone) and RFC 5424 syslog lines carrying a CEF message
//! (for SIEMs; also what [`super::syslog`] sends).

use crate::store::audit::AuditRecord;
use std::fmt::Write as _;

/// How exported records are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// One JSON object per line.
    Jsonl,
    /// One RFC 5424 syslog line per record, the message in CEF.
    Cef,
}

impl ExportFormat {
    /// Parses `jsonl` or `cef`.
    pub fn parse(s: &str) -> Option<ExportFormat> {
        match s {
            "jsonl" => Some(ExportFormat::Jsonl),
            "cef" => Some(ExportFormat::Cef),
            _ => None,
        }
    }

    /// The HTTP content type of an export in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Jsonl => "application/x-ndjson",
            ExportFormat::Cef => "text/plain; charset=utf-8",
        }
    }
}

/// Syslog facility 13, "log audit" (RFC 5424 table 1).
const FACILITY_LOG_AUDIT: u8 = 13;

/// CEF severity (0-10) of an outcome.
fn cef_severity(outcome: &str) -> u8 {
    match outcome {
        "success" => 3,
        "failed" => 5,
        _ => 7,
    }
}

/// Syslog severity of an outcome: informational, notice, warning.
fn syslog_severity(outcome: &str) -> u8 {
    match outcome {
        "success" => 6,
        "failed" => 5,
        _ => 4,
    }
}

/// Escapes a CEF header field: backslash and pipe are escaped; line breaks, which the
/// header may not contain, become spaces.
pub fn cef_header_escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '|' => out.push_str("\\|"),
            '\r' | '\n' => out.push(' '),
            c => out.push(c),
        }
    }
}

/// Escapes a CEF extension value: backslash, equals sign and line breaks.
pub fn cef_value_escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '=' => out.push_str("\\="),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

fn ext(out: &mut String, key: &str, value: &str) {
    if !out.ends_with('|') {
        out.push(' ');
    }
    out.push_str(key);
    out.push('=');
    cef_value_escape(value, out);
}

fn labelled(out: &mut String, key: &str, label: &str, value: &str) {
    ext(out, &format!("{key}Label"), label);
    ext(out, key, value);
}

/// An RFC 3339 UTC timestamp with milliseconds.
pub fn rfc3339_ms(at_ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(at_ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "-".to_owned())
}

/// Parses a time given by a person: RFC 3339 (`2026-01-31T12:00:00Z`, offsets and
/// fractions allowed), a date alone (`2026-01-31`, midnight UTC), or Unix seconds.
/// Returns Unix milliseconds.
pub fn parse_time_ms(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let bad = || {
        format!("{s:?} is not an RFC 3339 time (2026-01-31T12:00:00Z), a date (2026-01-31) or Unix seconds")
    };
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        let secs: i64 = s.parse().map_err(|_| bad())?;
        return secs.checked_mul(1000).ok_or_else(bad);
    }
    let num = |t: &str| -> Result<i64, String> {
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        t.parse::<i64>().map_err(|_| bad())
    };
    let (date, rest) = match s.find(['T', 't', ' ']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mut d = date.splitn(3, '-');
    let (y, mo, da) = match (d.next(), d.next(), d.next()) {
        (Some(y), Some(m), Some(d)) if y.len() == 4 && m.len() == 2 && d.len() == 2 => {
            (num(y)?, num(m)?, num(d)?)
        }
        _ => return Err(bad()),
    };
    let month = u8::try_from(mo)
        .ok()
        .and_then(|m| time::Month::try_from(m).ok())
        .ok_or_else(bad)?;
    let date = time::Date::from_calendar_date(
        i32::try_from(y).map_err(|_| bad())?,
        month,
        u8::try_from(da).map_err(|_| bad())?,
    )
    .map_err(|_| bad())?;
    let (h, mi, se, frac_ms, offset_s) = match rest {
        None => (0, 0, 0, 0, 0),
        Some(t) => {
            // Split off the zone: Z, or +HH:MM / -HH:MM.
            let (clock, offset_s) = if let Some(c) = t.strip_suffix(['Z', 'z']) {
                (c, 0)
            } else {
                let i = t.rfind(['+', '-']).ok_or_else(bad)?;
                let (c, z) = t.split_at(i);
                let sign = if z.starts_with('-') { -1 } else { 1 };
                let (zh, zm) = z[1..].split_once(':').ok_or_else(bad)?;
                (c, sign * (num(zh)? * 3600 + num(zm)? * 60))
            };
            let (hms, frac) = match clock.split_once('.') {
                Some((a, f)) => (a, Some(f)),
                None => (clock, None),
            };
            let mut p = hms.splitn(3, ':');
            let (h, mi, se) = match (p.next(), p.next(), p.next()) {
                (Some(h), Some(m), Some(s)) => (num(h)?, num(m)?, num(s)?),
                _ => return Err(bad()),
            };
            let frac_ms = match frac {
                Some(f) => {
                    num(f)?;
                    let mut ms: String = f.chars().take(3).collect();
                    while ms.len() < 3 {
                        ms.push('0');
                    }
                    num(&ms)?
                }
                None => 0,
            };
            (h, mi, se, frac_ms, offset_s)
        }
    };
    if h > 23 || mi > 59 || se > 60 {
        return Err(bad());
    }
    let days = i64::from(date.to_julian_day()) - 2_440_588; // 1970-01-01
    let secs = days * 86_400 + h * 3600 + mi * 60 + se - offset_s;
    Ok(secs * 1000 + frac_ms)
}

/// A syslog HOSTNAME: printable ASCII without spaces, at most 255 characters, or `-`.
fn syslog_host(host: &str) -> String {
    let h: String = host
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(255)
        .collect();
    if h.is_empty() {
        "-".to_owned()
    } else {
        h
    }
}

/// The CEF message of a record: `CEF:0|Clavis|clavisd|<version>|<action>|<action>|<severity>|<extensions>`.
pub fn cef_message(r: &AuditRecord) -> String {
    let mut out = String::with_capacity(512);
    out.push_str("CEF:0|Clavis|clavisd|");
    cef_header_escape(env!("CARGO_PKG_VERSION"), &mut out);
    out.push('|');
    cef_header_escape(&r.action, &mut out);
    out.push('|');
    cef_header_escape(&r.action, &mut out);
    let _ = write!(out, "|{}|", cef_severity(&r.outcome));
    ext(&mut out, "rt", &r.at_ms.to_string());
    ext(&mut out, "deviceExternalId", &r.node_id);
    ext(&mut out, "suser", &r.actor);
    labelled(&mut out, "cs5", "actorKind", &r.actor_kind);
    ext(&mut out, "act", &r.action);
    if let Some(o) = &r.object {
        labelled(&mut out, "cs1", "object", o);
    }
    if let Some(s) = &r.source {
        if let Ok(addr) = s.parse::<std::net::SocketAddr>() {
            ext(&mut out, "src", &addr.ip().to_string());
            ext(&mut out, "spt", &addr.port().to_string());
        }
        labelled(&mut out, "cs3", "source", s);
    }
    ext(&mut out, "outcome", &r.outcome);
    if let Some(d) = &r.detail {
        ext(&mut out, "msg", d);
    }
    labelled(&mut out, "cs2", "origin", &r.origin);
    labelled(&mut out, "cn1", "seq", &r.seq.to_string());
    labelled(&mut out, "cs4", "hash", &hex::encode(&r.hash));
    labelled(&mut out, "cs6", "prevHash", &hex::encode(&r.prev_hash));
    out
}

/// An RFC 5424 syslog line (without a trailing newline) carrying the record's CEF
/// message: `<PRI>1 TIMESTAMP HOSTNAME clavisd - audit - CEF:0|...`.
pub fn syslog_line(r: &AuditRecord, host: &str) -> String {
    let pri = u16::from(FACILITY_LOG_AUDIT) * 8 + u16::from(syslog_severity(&r.outcome));
    format!(
        "<{pri}>1 {} {} clavisd - audit - {}",
        rfc3339_ms(r.at_ms),
        syslog_host(host),
        cef_message(r)
    )
}

/// Appends one record in `format` to `out`, newline-terminated.
pub fn write_record(format: ExportFormat, r: &AuditRecord, host: &str, out: &mut Vec<u8>) {
    match format {
        ExportFormat::Jsonl => {
            // Serializing a struct of strings and integers cannot fail.
            if serde_json::to_writer(&mut *out, r).is_ok() {
                out.push(b'\n');
            }
        }
        ExportFormat::Cef => {
            out.extend_from_slice(syslog_line(r, host).as_bytes());
            out.push(b'\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> AuditRecord {
        AuditRecord {
            origin: "r1".into(),
            seq: 42,
            at_ms: 1_700_000_000_123,
            node_id: "n1".into(),
            actor: "ev|l=a\\b\nc".into(),
            actor_kind: "user".into(),
            action: "key.get|x".into(),
            object: Some("k=1".into()),
            source: Some("127.0.0.1:4000".into()),
            outcome: "denied".into(),
            detail: Some("a=b\r\nc|d".into()),
            prev_hash: vec![0; 32],
            hash: vec![0xab; 32],
        }
    }

    #[test]
    fn cef_escapes_header_and_extensions() {
        let m = cef_message(&record());
        assert!(m.starts_with("CEF:0|Clavis|clavisd|"), "{m}");
        assert!(m.contains("|key.get\\|x|key.get\\|x|7|"), "{m}");
        assert!(m.contains("suser=ev|l\\=a\\\\b\\nc cs5Label"), "{m}");
        assert!(m.contains("msg=a\\=b\\r\\nc|d cs2Label"), "{m}");
        assert!(m.contains("cs1=k\\=1"), "{m}");
        assert!(m.contains("src=127.0.0.1 spt=4000"), "{m}");
        assert!(!m.contains('\n') && !m.contains('\r'));
    }

    #[test]
    fn syslog_line_is_rfc5424() {
        let l = syslog_line(&record(), "node a");
        // facility 13 (log audit) * 8 + warning (4) for a denial
        assert!(
            l.starts_with("<108>1 2023-11-14T22:13:20.123Z nodea clavisd - audit - CEF:0|"),
            "{l}"
        );
    }

    #[test]
    fn times_parse() {
        assert_eq!(parse_time_ms("1700000000"), Ok(1_700_000_000_000));
        assert_eq!(parse_time_ms("2023-11-14T22:13:20Z"), Ok(1_700_000_000_000));
        assert_eq!(
            parse_time_ms("2023-11-14T22:13:20.5Z"),
            Ok(1_700_000_000_500)
        );
        assert_eq!(
            parse_time_ms("2023-11-15T00:13:20+02:00"),
            Ok(1_700_000_000_000)
        );
        assert_eq!(parse_time_ms("1970-01-02"), Ok(86_400_000));
        for bad in [
            "",
            "yesterday",
            "2023-13-01",
            "2023-11-14T25:00:00Z",
            "2023-11-14T22:13Z",
            "-5",
        ] {
            assert!(parse_time_ms(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_time_ms(&rfc3339_ms(1_700_000_000_123)),
            Ok(1_700_000_000_123)
        );
    }

    #[test]
    fn jsonl_round_trips() {
        let mut out = Vec::new();
        write_record(ExportFormat::Jsonl, &record(), "h", &mut out);
        assert_eq!(out.iter().filter(|b| **b == b'\n').count(), 1);
        let back: AuditRecord = serde_json::from_slice(&out).expect("parse");
        assert_eq!(back, record());
    }
}
