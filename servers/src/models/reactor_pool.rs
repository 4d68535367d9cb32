//! stub
use crate::model::{Context, ServeError, Server};
use crate::net::Listener;
pub struct ReactorPoolServer;
impl Server for ReactorPoolServer {
    fn serve(self, l: Listener, c: &Context) -> Result<(), ServeError> {
        super::MioServer.serve(l, c)
    }
}
