//! The agencies and their keys (spec/api.md §4.6; spec/registry.md §2).

use super::*;

/// An agency key and its history.
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct KeyView {
    /// Base64 of the Ed25519 public key.
    #[schema(value_type = schema::PublicKey)]
    pub key: String,
    /// Hex of its hash.
    #[schema(value_type = schema::Hex32)]
    pub key_hash: String,
    /// The registry entry that added it.
    pub added_at: u64,
    /// The registry entry that revoked or rotated it out.
    pub revoked_at: Option<u64>,
    /// Why it was revoked.
    pub revoke_reason: Option<String>,
    /// Whether it may sign now.
    pub active: bool,
}

/// An agency (spec/api.md §4.7).
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct AgencyView {
    /// The agency id.
    #[schema(value_type = schema::AgencyId)]
    pub id: String,
    /// Its name.
    pub name: String,
    /// The registry entry that registered it.
    pub registered_at: u64,
    /// How many entries it has appended.
    pub entries: u64,
    /// Its newest entry.
    pub last_entry: Option<u64>,
    /// Every key it ever had, oldest first.
    pub keys: Vec<KeyView>,
}

/// Every agency.
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct AgenciesResponse {
    /// The agencies, by id.
    pub agencies: Vec<AgencyView>,
}

pub(super) fn agency_view(a: &AgencyRecord) -> AgencyView {
    AgencyView {
        id: a.id.to_string(),
        name: a.name.clone(),
        registered_at: a.registered_at.0,
        entries: a.entries,
        last_entry: a.last_entry.map(|i| i.0),
        keys: a
            .keys
            .iter()
            .map(|k| KeyView {
                key: STANDARD.encode(k.key.as_bytes()),
                key_hash: k.key_hash.0.to_hex(),
                added_at: k.added_at.0,
                revoked_at: k.revoked_at.map(|i| i.0),
                revoke_reason: k.revoke_reason.clone(),
                active: k.revoked_at.is_none(),
            })
            .collect(),
    }
}

pub(super) fn agency_list(s: &AppState) -> Agencies {
    s.agencies
        .read()
        .map(|a| a.clone())
        .unwrap_or_else(|p| p.into_inner().clone())
}

/// Every agency, with its key history (spec/api.md §4.7).
#[utoipa::path(get, path = "/v1/agencies", tag = "read",
    responses((status = 200, description = "every agency", body = AgenciesResponse)))]
pub(super) async fn agencies(State(s): State<AppState>) -> Json<AgenciesResponse> {
    let list = agency_list(&s);
    Json(AgenciesResponse {
        agencies: list.iter().map(agency_view).collect(),
    })
}

/// One agency, with its key history (spec/api.md §4.7).
#[utoipa::path(get, path = "/v1/agencies/{id}", tag = "read",
    params(("id" = String, Path, description = "agency id")),
    responses((status = 200, description = "the agency", body = AgencyView),
        (status = 400, description = "`bad_request`: the path does not decode as UTF-8", body = ErrorBody),
        (status = 404, description = "`not_found`: no such agency", body = ErrorBody)))]
pub(super) async fn agency(
    State(s): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<AgencyView>> {
    let id = path_param(id)?;
    let list = agency_list(&s);
    list.iter()
        .find(|a| a.id.as_str() == id)
        .map(|a| Json(agency_view(a)))
        .ok_or_else(|| ApiError::not_found("no such agency"))
}
