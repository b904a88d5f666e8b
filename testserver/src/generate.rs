//! Deterministic generation of realistic Miro users.
//!
//! Every user is generated from `(seed, index)` alone, so user `i` is the same whatever the
//! total number of users, and users appended later by [`crate::Drift`] continue the sequence.

use serde::Serialize;

use crate::store::Facts;

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

#[derive(Serialize)]
struct NameDoc {
    #[serde(rename = "givenName")]
    given_name: &'static str,
    #[serde(rename = "familyName")]
    family_name: &'static str,
}

#[derive(Serialize)]
struct EmailDoc<'a> {
    value: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    primary: bool,
}

#[derive(Serialize)]
struct RoleDoc {
    value: &'static str,
    display: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    primary: bool,
}

#[derive(Serialize)]
struct GroupDoc {
    value: String,
    display: &'static str,
}

#[derive(Serialize)]
struct MetaDoc {
    #[serde(rename = "resourceType")]
    resource_type: &'static str,
    location: String,
}

#[derive(Serialize)]
struct ManagerDoc {
    value: String,
    #[serde(rename = "displayName")]
    display_name: String,
}

#[derive(Serialize)]
struct EnterpriseDoc {
    #[serde(rename = "employeeNumber")]
    employee_number: String,
    #[serde(rename = "costCenter")]
    cost_center: String,
    department: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    manager: Option<ManagerDoc>,
}

/// A generated SCIM User, serialized in Miro's attribute order.
#[derive(Serialize)]
struct UserDoc<'a> {
    schemas: &'static [&'static str],
    id: &'a str,
    #[serde(rename = "userName")]
    user_name: &'a str,
    name: NameDoc,
    #[serde(rename = "displayName", skip_serializing_if = "Option::is_none")]
    display_name: Option<String>,
    #[serde(rename = "userType", skip_serializing_if = "Option::is_none")]
    user_type: Option<&'static str>,
    active: bool,
    emails: [EmailDoc<'a>; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    roles: Option<Vec<RoleDoc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    groups: Option<Vec<GroupDoc>>,
    #[serde(rename = "preferredLanguage", skip_serializing_if = "Option::is_none")]
    preferred_language: Option<&'static str>,
    meta: MetaDoc,
    #[serde(
        rename = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        skip_serializing_if = "Option::is_none"
    )]
    enterprise: Option<EnterpriseDoc>,
}

/// One generated user: its serialized SCIM resource, the facts the server filters on, and
/// its REST-only last activity.
#[derive(Debug, Clone)]
pub(crate) struct GeneratedUser {
    /// The SCIM User resource, serialized.
    pub json: Vec<u8>,
    /// Derived attributes.
    pub facts: Facts,
    /// The id.
    pub id: String,
    /// `lastActivityAt` for the members endpoint; `None` when the user never logged in.
    pub last_activity: Option<String>,
}

const SCHEMAS_CORE: &[&str] = &[USER_SCHEMA];
const SCHEMAS_WITH_EXT: &[&str] = &[USER_SCHEMA, ENTERPRISE_SCHEMA];

/// Generates user number `index` (0-based).
pub(crate) fn generate_user(ctx: &GenContext, index: u64) -> GeneratedUser {
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

    let mut doc = UserDoc {
        schemas: if with_enterprise {
            SCHEMAS_WITH_EXT
        } else {
            SCHEMAS_CORE
        },
        id: &id,
        user_name: &email,
        name: NameDoc {
            given_name: given,
            family_name: family,
        },
        display_name: None,
        user_type: None,
        active,
        emails: [EmailDoc {
            value: &email,
            kind: "work",
            primary: true,
        }],
        roles: None,
        groups: None,
        preferred_language: None,
        meta: MetaDoc {
            resource_type: "User",
            location: format!("{}/Users/{}", ctx.scim_base_url, id),
        },
        enterprise: None,
    };
    let mut admin = false;
    if !minimal {
        doc.display_name = Some(format!("{given} {family}"));
        doc.user_type = Some(match rng.below(100) {
            0..60 => "Full",
            60..80 => "Free",
            80..85 => "Basic",
            85..90 => "Standard",
            90..94 => "Advanced",
            94..97 => "Full (Trial)",
            _ => "Free Restricted",
        });
        admin = rng.below(100) < 5;
        let org_role = if admin {
            "ORGANIZATION_INTERNAL_ADMIN"
        } else {
            "ORGANIZATION_INTERNAL_USER"
        };
        let mut roles = vec![RoleDoc {
            value: org_role,
            display: org_role,
            kind: "organization_user_role",
            primary: true,
        }];
        if rng.below(100) < 3 {
            let n = 1 + rng.below(2) as usize;
            let first = rng.below(ADMIN_ROLES.len() as u64) as usize;
            for k in 0..n {
                let role = ADMIN_ROLES[(first + k) % ADMIN_ROLES.len()];
                roles.push(RoleDoc {
                    value: role,
                    display: role,
                    kind: "organization_admin_role",
                    primary: false,
                });
            }
        }
        doc.roles = Some(roles);
        let team_count = rng.below(3) as usize;
        let first_team = rng.below(TEAMS.len() as u64) as usize;
        doc.groups = Some(
            (0..team_count)
                .map(|k| {
                    let t = (first_team + k) % TEAMS.len();
                    GroupDoc {
                        value: (TEAM_ID_BASE + t as u64).to_string(),
                        display: TEAMS[t],
                    }
                })
                .collect(),
        );
        doc.preferred_language = Some(rng.pick(LANGUAGES));
    }
    if with_enterprise {
        let cost_center = format!("CC-{}", 100 + rng.below(40));
        let department = rng.pick(DEPARTMENTS);
        let manager = (index > 0).then(|| {
            let m = rng.below(index.min(50));
            let (mg, mf) = user_name(ctx.seed, m);
            ManagerDoc {
                value: user_id(m),
                display_name: format!("{mg} {mf}"),
            }
        });
        doc.enterprise = Some(EnterpriseDoc {
            employee_number: format!("E{:06}", index + 1),
            cost_center,
            department,
            manager,
        });
    }
    let last_activity = if rng.below(100) < 10 {
        None
    } else {
        let ago = rng.below(400 * 86_400) as i64;
        Some(rfc3339(ctx.now_unix - ago))
    };
    let json = serde_json::to_vec(&doc).unwrap_or_default();
    let facts = Facts {
        user_name_lower: Some(email.to_lowercase()),
        email: Some(email.clone()),
        active: Some(active),
        user_type: doc.user_type.map(str::to_owned),
        admin,
    };
    GeneratedUser {
        json,
        facts,
        id,
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
