//! Compiling `auth.token_endpoint`: the token request's templates, the JSONPaths of
//! the token and its lifetime, and the header that carries the token.

use std::time::Duration;

use rollcall_source::{Diagnostic, Document};

use super::{JsonPath, Template, Templates, check_header_name, escape};
use crate::manifest::{Method, TokenEndpointSpec};

/// The name the header template gives the fetched token.
pub const TOKEN_VARIABLE: &str = "access_token";

/// A compiled `auth.token_endpoint`.
#[derive(Debug)]
pub struct TokenEndpoint {
    /// Method of the token request.
    pub method: Method,
    /// URL template (query included).
    pub url: Template,
    /// Basic credentials of the token request: user and password templates.
    pub basic: Option<(Template, Template)>,
    /// Extra header templates.
    pub headers: Vec<(String, Template)>,
    /// The body.
    pub body: TokenBody,
    /// Where the token is in the answer.
    pub token: JsonPath,
    /// Where its lifetime (seconds) is in the answer.
    pub expires_in: JsonPath,
    /// The header that carries the token.
    pub header: String,
    /// Its value template (uses `access_token` and the inputs).
    pub value: Template,
    /// How long before expiry the token is replaced.
    pub refresh_margin: Duration,
}

/// The body of a token request.
#[derive(Debug)]
pub enum TokenBody {
    /// No body.
    None,
    /// `application/x-www-form-urlencoded` fields (value templates).
    Form(Vec<(String, Template)>),
    /// A JSON body template.
    Json(Template),
}

impl TokenEndpoint {
    /// Every template of the token request (not the header, which needs the token).
    pub fn request_templates(&self) -> Vec<&Template> {
        let mut out = vec![&self.url];
        if let Some((u, p)) = &self.basic {
            out.push(u);
            out.push(p);
        }
        out.extend(self.headers.iter().map(|(_, t)| t));
        match &self.body {
            TokenBody::None => {}
            TokenBody::Form(f) => out.extend(f.iter().map(|(_, t)| t)),
            TokenBody::Json(t) => out.push(t),
        }
        out
    }
}

/// Compiles `spec`, found at the JSON pointer `at` (`/auth/token_endpoint`).
pub(crate) fn compile(
    spec: &TokenEndpointSpec,
    at: &str,
    doc: &Document,
    templates: &mut Templates,
    inputs: &[&str],
    secrets: &[&str],
    diags: &mut Vec<Diagnostic>,
) -> TokenEndpoint {
    let mut tpl = |diags: &mut Vec<Diagnostic>, pointer: String, source: &str, names: &[&str]| {
        match templates.compile(source, names) {
            Ok(t) => t,
            Err((msg, hint)) => {
                diags.push(doc.error_at(&pointer, msg, hint));
                Template::Literal(String::new())
            }
        }
    };
    let url = tpl(diags, format!("{at}/url"), &spec.url, inputs);
    if let Template::Literal(s) = &url
        && !s.is_empty()
        && let Err(e) = crate::http::check_base_url(s)
    {
        diags.push(doc.error_at(
            &format!("{at}/url"),
            e.replacen("the base URL", "the token URL", 1),
            None,
        ));
    }
    let basic = spec.basic.as_ref().map(|b| {
        (
            tpl(diags, format!("{at}/basic/username"), &b.username, inputs),
            tpl(diags, format!("{at}/basic/password"), &b.password, inputs),
        )
    });
    let mut headers = Vec::new();
    for (name, value) in &spec.headers {
        let ptr = format!("{at}/headers/{}", escape(name));
        check_header_name(name, &ptr, doc, diags);
        headers.push((name.clone(), tpl(diags, ptr, value, inputs)));
    }
    let body = match (&spec.json, spec.form.is_empty()) {
        (Some(_), false) => {
            diags.push(doc.error_at(
                &format!("{at}/json"),
                "the token request has both `form` and `json`; a request has one body",
                Some("keep the one the token endpoint documents (OAuth 2 uses `form`)".into()),
            ));
            TokenBody::None
        }
        (Some(j), true) => TokenBody::Json(tpl(diags, format!("{at}/json"), j, inputs)),
        (None, false) => TokenBody::Form(
            spec.form
                .iter()
                .map(|(k, v)| {
                    let ptr = format!("{at}/form/{}", escape(k));
                    (k.clone(), tpl(diags, ptr, v, inputs))
                })
                .collect(),
        ),
        (None, true) => TokenBody::None,
    };

    let path = |diags: &mut Vec<Diagnostic>, field: &str, source: &str| {
        JsonPath::parse(source).unwrap_or_else(|e| {
            diags.push(doc.error_at(
                &format!("{at}/{field}"),
                e,
                Some("e.g. `$.access_token`".into()),
            ));
            JsonPath::parse("$").expect("`$` is a valid JSONPath")
        })
    };
    let token = path(diags, "token_path", &spec.token_path);
    let expires_in = path(diags, "expires_in_path", &spec.expires_in_path);

    check_header_name(&spec.header, &format!("{at}/header"), doc, diags);
    let value = if inputs.contains(&TOKEN_VARIABLE) {
        diags.push(doc.error_at(
            &format!("/inputs/{TOKEN_VARIABLE}"),
            format!(
                "an input cannot be named `{TOKEN_VARIABLE}` in a connector with `token_endpoint` auth: the header template uses that name for the fetched token"
            ),
            Some("rename the input".into()),
        ));
        Template::Literal(String::new())
    } else {
        let mut names = inputs.to_vec();
        names.push(TOKEN_VARIABLE);
        let t = tpl(diags, format!("{at}/value"), &spec.value, &names);
        if !matches!(&t, Template::Literal(s) if s.is_empty())
            && !templates.uses_any(&t, &[TOKEN_VARIABLE], &names)
        {
            diags.push(doc.error_at(
                &format!("{at}/value"),
                format!(
                    "the header template `{}` does not use the fetched token",
                    spec.value
                ),
                Some(format!("write `{{{{{TOKEN_VARIABLE}}}}}` where the token goes, e.g. `Bearer {{{{{TOKEN_VARIABLE}}}}}`")),
            ));
        }
        t
    };

    let out = TokenEndpoint {
        method: spec.method,
        url,
        basic,
        headers,
        body,
        token,
        expires_in,
        header: spec.header.clone(),
        value,
        refresh_margin: spec.refresh_margin.get(),
    };
    // The token request must carry a credential: one of its templates uses a secret.
    let uses_secret = out.request_templates().iter().any(|t| {
        templates.uses_any(t, secrets, inputs) || needs_any(templates, t, secrets, inputs)
    });
    if !uses_secret {
        let hint = match spec.basic {
            Some(_) => "mark the input used as `basic.password` with `secret: true`",
            None => {
                "declare the client secret as an input with `secret: true` and use it, e.g. `basic: {username: \"{{client_id}}\", password: \"{{client_secret}}\"}`"
            }
        };
        let pointer = match spec.basic {
            Some(_) => format!("{at}/basic/password"),
            None => at.to_string(),
        };
        diags.push(doc.error_at(
            &pointer,
            "the token request uses no secret input",
            Some(hint.into()),
        ));
    }
    out
}

fn needs_any(templates: &Templates, t: &Template, names: &[&str], all: &[&str]) -> bool {
    names.iter().any(|n| templates.needs(t, n, all))
}
