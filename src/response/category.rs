//! Response categories as the contract spells them.

use std::fmt;

/// A RECIST 1.1 response category (target, non-target, overall or best overall).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Response {
    Cr,
    Pr,
    Sd,
    Pd,
    Ne,
    /// Non-target disease that is neither gone nor progressing (Table 2's "Non-CR/non-PD").
    NonCrNonPd,
}

impl Response {
    pub fn as_str(self) -> &'static str {
        match self {
            Response::Cr => "CR",
            Response::Pr => "PR",
            Response::Sd => "SD",
            Response::Pd => "PD",
            Response::Ne => "NE",
            Response::NonCrNonPd => "NON-CR/NON-PD",
        }
    }

    pub fn parse(s: &str) -> Option<Response> {
        Some(match s.trim().to_ascii_uppercase().as_str() {
            "CR" => Response::Cr,
            "PR" => Response::Pr,
            "SD" => Response::Sd,
            "PD" => Response::Pd,
            "NE" => Response::Ne,
            "NON-CR/NON-PD" => Response::NonCrNonPd,
            _ => return None,
        })
    }
}

impl fmt::Display for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
