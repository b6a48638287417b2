//! Request dispatch: one handler per request, each validating its input at the
//! boundary before anything is stored or executed. Only `server` calls in here; the
//! handlers never call back, so this is the one module that knows them all.

use super::error::ApiError;
use super::state::Controller;
use super::{actions, applications, audit, models, refresh, relations, secrets, views};
use tether_core::wire::{Reply, Request, JUJU_COMPAT_VERSION};

/// Hands a hook tool call to the hook that runs under `context`.
pub async fn hook_tool(c: &Controller, context: &str, tool: String, args: Vec<String>, stdin: Option<String>) -> Reply {
    match c.charms.services().hook_tools.call(context, tool, args, stdin).await {
        Some(out) => Reply::HookTool { stdout: out.stdout, stderr: out.stderr, code: out.code },
        None => Reply::error(format!("bad context id {:?}: no such hook is running", context.chars().take(80).collect::<String>())),
    }
}

pub async fn dispatch(c: &Controller, request: Request) -> Reply {
    let result = match request {
        Request::Ping => Ok(Reply::Done { info: vec![], output: None }),
        Request::Version => Ok(Reply::Version { version: format!("{JUJU_COMPAT_VERSION}-ubuntu-amd64") }),
        Request::StopController => {
            c.shutdown.notify_one();
            Ok(Reply::done("controller stopping"))
        }
        Request::AddModel { name, switch } => models::add_model(c, &name, switch),
        Request::Models => models::list(c),
        Request::Switch { model } => models::switch(c, &model),
        Request::DestroyModel { name, force } => models::destroy(c, &name, force).await,
        Request::Deploy { model, charm, app, config, num_units, resources, trust, dry_run } => applications::deploy(
            c,
            model,
            applications::DeployRequest { charm: &charm, app, config: &config, num_units, resources: &resources, trust, dry_run },
        ),
        Request::AddUnit { model, app, num_units } => applications::add_unit(c, model, &app, num_units),
        Request::RemoveUnit { model, units, num_units } => applications::remove_unit(c, model, &units, num_units),
        Request::RemoveApplication { model, apps, force } => applications::remove_application(c, model, &apps, force),
        Request::ConfigGet { model, app } => applications::config_get(c, model, &app),
        Request::Refresh { model, app, path, config, trust } => {
            refresh::refresh(c, model, refresh::RefreshRequest { app: &app, path: &path, config: &config, trust })
        }
        Request::Trust { model, app, remove } => applications::trust(c, model, &app, !remove),
        Request::ConfigSet { model, app, set, reset } => applications::config_set(c, model, &app, &set, &reset),
        Request::Integrate { model, a, b, wait_ms } => relations::integrate(c, model, &a, &b, wait_ms).await,
        Request::RemoveRelation { model, a, b } => relations::remove(c, model, &a, b.as_deref()),
        Request::Run { model, units, action, params, wait_ms } => actions::run(c, model, &units, &action, params, wait_ms).await,
        Request::Operations { model } => actions::operations(c, model),
        Request::ShowOperation { model, id } => actions::show_operation(c, model, &id),
        Request::ShowTask { model, id } => actions::show_task(c, model, &id),
        Request::StatusLog { model, entity, kind, days, limit } => views::status_log(c, model, &entity, kind.as_deref(), days, limit),
        Request::Status { model } => views::status(c, model),
        Request::ShowUnit { model, unit } => views::show_unit(c, model, &unit),
        Request::DebugLog { model, limit, filter, after } => views::debug_log(c, model, limit, &filter, after),
        Request::Resolve { model, unit } => applications::resolve(c, model, &unit),
        Request::Secrets { model } => views::secrets(c, model),
        Request::ShowSecret { model, id, reveal } => views::show_secret(c, model, &id, reveal),
        Request::Info { charm } => views::charm_info(c, &charm),
        Request::Actions { model, app } => views::actions(c, model, &app),
        Request::Charms => Ok(views::charms(c)),
        Request::Audit { model, all } => audit::audit(c, model, all),
        Request::ModelConfig { model, set, reset } => models::model_config(c, model, &set, &reset),
        Request::ShowModel { model } => models::show_model(c, model),
        Request::AddSecret { model, name, info, content } => secrets::add(c, model, &name, info.as_deref(), &content),
        Request::UpdateSecret { model, id, info, name, content } => {
            secrets::update(c, model, &id, info.as_deref(), name.as_deref(), content.as_ref())
        }
        Request::RemoveSecret { model, id } => secrets::remove(c, model, &id),
        Request::GrantSecret { model, id, apps, revoke } => secrets::grant(c, model, &id, &apps, revoke),
        Request::Exec { model, unit, command, wait_ms } => actions::exec(c, model, &unit, command, wait_ms).await,
        Request::HookTool { context, tool, args, stdin } => Ok(hook_tool(c, &context, tool, args, stdin).await),
    };
    match result {
        Ok(reply) => reply,
        Err(ApiError::Usage(m)) => Reply::Error { message: m, usage: true },
        Err(e) => Reply::error(e.to_string()),
    }
}
