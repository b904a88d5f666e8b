//! Deterministic generation of realistic Miro users.
//!
//! Every user is generated from `(seed, index)` alone, so user `i` is the same whatever the
//! total number of users, and users appended later by [`crate::Drift`] continue the sequence.

use serde_json::{Map, Value, json};

/// URN of the SCIM core User schema.
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// URN of the SCIM enterprise User extension.
pub const ENTERPRISE_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// First id handed out; user `i` gets `ID_BASE + i`.
const ID_BASE: u64 = 3_074_457_365_265_951_581;
/// First team id; team `k` gets `TEAM_ID_BASE + k`.
const TEAM_ID_BASE: u64 = 3_458_764_577_585_056_871;

const GIVEN: &[&str] = &[
    "Maria",
    "James",
    "Wei",
    "Aisha",
    "Lukas",
    "Sofia",
    "Hiroshi",
    "Fatima",
    "Olga",
    "Carlos",
    "Priya",
    "Mohammed",
    "Emma",
    "Kwame",
    "Yuki",
    "Zoë",
    "Łukasz",
    "Ngọc",
    "José",
    "Søren",
    "Ayşe",
    "Björn",
    "Chiara",
    "Dmitri",
    "Elif",
    "Femi",
    "Gabriela",
    "Hana",
    "Ivan",
    "Jana",
    "Kofi",
    "Leila",
    "Mateo",
    "Nadia",
    "Oscar",
    "Pooja",
    "Quentin",
    "Rania",
    "Santiago",
    "Tariq",
    "Ursula",
    "Vikram",
    "Wanjiru",
    "Xavier",
    "Yara",
    "Zainab",
    "Anh",
    "Bongani",
    "Camille",
    "Diego",
    "Eun-ji",
    "Francesca",
    "Giorgos",
    "Ingrid",
    "Jun",
    "Kateřina",
    "Liam",
    "Mei",
    "Noah",
    "Amara",
];

const FAMILY: &[&str] = &[
    "Garcia",
    "Smith",
    "Zhang",
    "Khan",
    "Müller",
    "Rossi",
    "Tanaka",
    "Haddad",
    "Ivanova",
    "Silva",
    "Patel",
    "Al-Farsi",
    "Johnson",
    "Mensah",
    "Sato",
    "Nowak",
    "Nguyễn",
    "Fernández",
    "Jørgensen",
    "Yılmaz",
    "Lindqvist",
    "Bianchi",
    "Petrov",
    "Demir",
    "Adeyemi",
    "Santos",
    "Novák",
    "Kowalski",
    "Dubois",
    "Kim",
    "Okafor",
    "Hosseini",
    "López",
    "Schmidt",
    "Andersen",
    "Sharma",
    "Leroy",
    "Mahmoud",
    "Herrera",
    "Chen",
    "O'Brien",
    "Wang",
    "Kariuki",
    "Moreau",
    "Nakamura",
    "Abdullah",
    "Tran",
    "Dlamini",
    "Martin",
    "Ramírez",
    "Park",
    "Conti",
    "Papadopoulos",
    "Berg",
    "Li",
    "Dvořák",
    "Murphy",
    "Wong",
    "Cohen",
    "Eze",
];

const TEAMS: &[&str] = &[
    "Design",
    "Engineering",
    "Marketing",
    "Sales",
    "Product",
    "Customer Success",
    "Finance",
    "People Ops",
];

const DEPARTMENTS: &[&str] = &[
    "Engineering",
    "Design",
    "Marketing",
    "Sales",
    "Finance",
    "Human Resources",
    "Legal",
    "Operations",
    "Product",
    "Support",
];

const LANGUAGES: &[&str] = &[
    "en_US", "en_US", "en_US", "en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "ja_JP", "pt_BR",
    "pl_PL", "vi_VN",
];

const ADMIN_ROLES: &[&str] = &["Content Admin", "User Admin", "Security Admin"];

/// A tiny deterministic PRNG (splitmix64).
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// Creates a generator from a seed.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// Next 64 pseudo-random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform-ish value in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Picks one element of a non-empty slice.
    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

fn rng_for(seed: u64, index: u64, stream: u64) -> SplitMix64 {
    let mut mix = SplitMix64::new(seed ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03) ^ stream);
    SplitMix64::new(mix.next_u64())
}

/// The SCIM id of generated user `index`.
pub fn user_id(index: u64) -> String {
    (ID_BASE + index).to_string()
}

/// Given and family name of generated user `index`.
pub fn user_name(seed: u64, index: u64) -> (&'static str, &'static str) {
    let mut rng = rng_for(seed, index, 0x4e41_4d45);
    let given = rng.pick(GIVEN);
    let family = rng.pick(FAMILY);
    (given, family)
}

/// Lower-case ASCII rendering of a name for an e-mail local part.
fn email_part(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        let folded = match c {
            'a'..='z' | '0'..='9' => Some(c),
            'A'..='Z' => Some(c.to_ascii_lowercase()),
            'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' | 'ă' | 'ą' => Some('a'),
            'é' | 'è' | 'ê' | 'ë' | 'ę' | 'ě' | 'ễ' => Some('e'),
            'í' | 'ì' | 'î' | 'ï' | 'ı' => Some('i'),
            'ó' | 'ò' | 'ô' | 'ö' | 'õ' | 'ø' | 'ọ' | 'ơ' | 'ő' => Some('o'),
            'ú' | 'ù' | 'û' | 'ü' | 'ư' | 'ű' => Some('u'),
            'ç' | 'ć' | 'č' => Some('c'),
            'ł' | 'Ł' => Some('l'),
            'ñ' | 'ń' => Some('n'),
            'ş' | 'ś' | 'š' => Some('s'),
            'ž' | 'ż' | 'ź' => Some('z'),
            'ř' => Some('r'),
            'ğ' => Some('g'),
            'đ' | 'Đ' => Some('d'),
            'ý' => Some('y'),
            _ => None,
        };
        if let Some(f) = folded {
            out.push(f);
        }
    }
    out
}

/// Formats a unix timestamp (seconds) as RFC 3339 UTC, e.g. `2025-03-01T12:00:00Z`.
pub fn rfc3339(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Civil-from-days (proleptic Gregorian), after H. Hinnant's public-domain algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let mut year = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    if month <= 2 {
        year += 1;
    }
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

/// Inputs shared by all generated users of one server.
#[derive(Debug, Clone)]
pub struct GenContext {
    /// Generation seed.
    pub seed: u64,
    /// `origin + scim_base_path`, for `meta.location`.
    pub scim_base_url: String,
    /// Reference time for `lastActivityAt`.
    pub now_unix: i64,
}

/// One generated user: its SCIM resource and its REST-only last activity.
#[derive(Debug, Clone)]
pub struct GeneratedUser {
    /// The SCIM User resource.
    pub resource: Value,
    /// `lastActivityAt` for the members endpoint; `None` when the user never logged in.
    pub last_activity: Option<String>,
}

/// Generates user number `index` (0-based).
pub fn generate_user(ctx: &GenContext, index: u64) -> GeneratedUser {
    let mut rng = rng_for(ctx.seed, index, 0x5553_4552);
    let (given, family) = user_name(ctx.seed, index);
    let id = user_id(index);
    let email = format!(
        "{}.{}.{}@example.com",
        email_part(given),
        email_part(family),
        index + 1
    );
    let minimal = rng.below(100) < 5;
    let active = rng.below(100) < 90;
    let with_enterprise = !minimal && rng.below(100) < 70;

    let mut user = Map::new();
    let mut schemas = vec![Value::from(USER_SCHEMA)];
    if with_enterprise {
        schemas.push(Value::from(ENTERPRISE_SCHEMA));
    }
    user.insert("schemas".into(), Value::Array(schemas));
    user.insert("id".into(), Value::from(id.clone()));
    user.insert("userName".into(), Value::from(email.clone()));
    user.insert(
        "name".into(),
        json!({"givenName": given, "familyName": family}),
    );
    if !minimal {
        user.insert(
            "displayName".into(),
            Value::from(format!("{given} {family}")),
        );
        let roll = rng.below(100);
        let user_type = match roll {
            0..60 => "Full",
            60..80 => "Free",
            80..85 => "Basic",
            85..90 => "Standard",
            90..94 => "Advanced",
            94..97 => "Full (Trial)",
            _ => "Free Restricted",
        };
        user.insert("userType".into(), Value::from(user_type));
    }
    user.insert("active".into(), Value::Bool(active));
    user.insert(
        "emails".into(),
        json!([{"value": email, "type": "work", "primary": true}]),
    );
    if !minimal {
        let admin = rng.below(100) < 5;
        let org_role = if admin {
            "ORGANIZATION_INTERNAL_ADMIN"
        } else {
            "ORGANIZATION_INTERNAL_USER"
        };
        let mut roles = vec![json!({
            "value": org_role,
            "display": org_role,
            "type": "organization_user_role",
            "primary": true
        })];
        if rng.below(100) < 3 {
            let n = 1 + rng.below(2) as usize;
            let first = rng.below(ADMIN_ROLES.len() as u64) as usize;
            for k in 0..n {
                let role = ADMIN_ROLES[(first + k) % ADMIN_ROLES.len()];
                roles.push(json!({
                    "value": role,
                    "display": role,
                    "type": "organization_admin_role",
                    "primary": false
                }));
            }
        }
        user.insert("roles".into(), Value::Array(roles));

        let team_count = rng.below(3) as usize;
        let first_team = rng.below(TEAMS.len() as u64) as usize;
        let groups: Vec<Value> = (0..team_count)
            .map(|k| {
                let t = (first_team + k) % TEAMS.len();
                json!({"value": (TEAM_ID_BASE + t as u64).to_string(), "display": TEAMS[t]})
            })
            .collect();
        user.insert("groups".into(), Value::Array(groups));
        user.insert("preferredLanguage".into(), Value::from(rng.pick(LANGUAGES)));
    }
    user.insert(
        "meta".into(),
        json!({
            "resourceType": "User",
            "location": format!("{}/Users/{}", ctx.scim_base_url, id),
        }),
    );
    if with_enterprise {
        let mut ext = Map::new();
        ext.insert(
            "employeeNumber".into(),
            Value::from(format!("E{:06}", index + 1)),
        );
        ext.insert(
            "costCenter".into(),
            Value::from(format!("CC-{}", 100 + rng.below(40))),
        );
        ext.insert("department".into(), Value::from(rng.pick(DEPARTMENTS)));
        if index > 0 {
            let manager = rng.below(index.min(50));
            let (mg, mf) = user_name(ctx.seed, manager);
            ext.insert(
                "manager".into(),
                json!({"value": user_id(manager), "displayName": format!("{mg} {mf}")}),
            );
        }
        user.insert(ENTERPRISE_SCHEMA.into(), Value::Object(ext));
    }

    let last_activity = if rng.below(100) < 10 {
        None
    } else {
        let ago = rng.below(400 * 86_400) as i64;
        Some(rfc3339(ctx.now_unix - ago))
    };
    GeneratedUser {
        resource: Value::Object(user),
        last_activity,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_values() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn email_folding() {
        assert_eq!(email_part("Zoë"), "zoe");
        assert_eq!(email_part("Łukasz"), "lukasz");
        assert_eq!(email_part("Ngọc"), "ngoc");
        assert_eq!(email_part("O'Brien"), "obrien");
        assert_eq!(email_part("Eun-ji"), "eunji");
    }

    #[test]
    fn names_fold_to_non_empty_emails() {
        for n in GIVEN.iter().chain(FAMILY) {
            assert!(!email_part(n).is_empty(), "{n}");
        }
    }
}
