//! Authentication and authorization: the password file, the ACL file, and the policy the
//! broker applies at CONNECT, SUBSCRIBE, PUBLISH and delivery.

pub mod acl;
pub mod password_file;
