//! ThriftTest (Apache Thrift's cross-language test service) implemented on
//! wego-build's generated code; shared by the `thrift-test-server` example
//! and the interop tests.

use std::time::Duration;

use wego_kitex::BoxError;
use wego_kitex::server::{Server, ServerBuilder};
use wego_netpoll::rt;

pub(crate) use wego_idl_gen::thrift_test as generated;

pub(crate) use generated::ThriftTest_types::thrifttest::*;
pub(crate) use generated::thrifttest_service::*;
use pilota::{AHashMap, AHashSet, Bytes, FastStr};

/// The ThriftTest handler, answering as Apache's reference servers do.
pub(crate) struct Handler;

impl ThriftTestHandler for Handler {
    async fn test_void(&self) -> Result<(), BoxError> {
        Ok(())
    }
    async fn test_string(&self, thing: FastStr) -> Result<FastStr, BoxError> {
        Ok(thing)
    }
    async fn test_bool(&self, thing: bool) -> Result<bool, BoxError> {
        Ok(thing)
    }
    async fn test_byte(&self, thing: i8) -> Result<i8, BoxError> {
        Ok(thing)
    }
    async fn test_i32(&self, thing: i32) -> Result<i32, BoxError> {
        Ok(thing)
    }
    async fn test_i64(&self, thing: i64) -> Result<i64, BoxError> {
        Ok(thing)
    }
    async fn test_double(&self, thing: f64) -> Result<f64, BoxError> {
        Ok(thing)
    }
    async fn test_binary(&self, thing: Bytes) -> Result<Bytes, BoxError> {
        Ok(thing)
    }
    async fn test_struct(&self, thing: Xtruct) -> Result<Xtruct, BoxError> {
        Ok(thing)
    }
    async fn test_nest(&self, thing: Xtruct2) -> Result<Xtruct2, BoxError> {
        Ok(thing)
    }
    async fn test_map(&self, thing: AHashMap<i32, i32>) -> Result<AHashMap<i32, i32>, BoxError> {
        Ok(thing)
    }
    async fn test_string_map(
        &self,
        thing: AHashMap<FastStr, FastStr>,
    ) -> Result<AHashMap<FastStr, FastStr>, BoxError> {
        Ok(thing)
    }
    async fn test_set(&self, thing: AHashSet<i32>) -> Result<AHashSet<i32>, BoxError> {
        Ok(thing)
    }
    async fn test_list(&self, thing: Vec<i32>) -> Result<Vec<i32>, BoxError> {
        Ok(thing)
    }
    async fn test_enum(&self, thing: Numberz) -> Result<Numberz, BoxError> {
        Ok(thing)
    }
    async fn test_typedef(&self, thing: UserId) -> Result<UserId, BoxError> {
        Ok(thing)
    }
    async fn test_map_map(
        &self,
        _hello: i32,
    ) -> Result<AHashMap<i32, AHashMap<i32, i32>>, BoxError> {
        // As Apache's reference servers answer.
        let neg = (1..=4).map(|i| (-i, -i)).collect();
        let pos = (1..=4).map(|i| (i, i)).collect();
        Ok([(-4, neg), (4, pos)].into_iter().collect())
    }
    async fn test_insanity(
        &self,
        argument: Insanity,
    ) -> Result<AHashMap<UserId, AHashMap<Numberz, Insanity>>, BoxError> {
        let first = [(Numberz::TWO, argument.clone()), (Numberz::THREE, argument)]
            .into_iter()
            .collect();
        let second = [(Numberz::SIX, Insanity::default())].into_iter().collect();
        Ok([(UserId(1), first), (UserId(2), second)]
            .into_iter()
            .collect())
    }
    async fn test_multi(
        &self,
        arg0: i8,
        arg1: i32,
        arg2: i64,
        _arg3: AHashMap<i16, FastStr>,
        _arg4: Numberz,
        _arg5: UserId,
    ) -> Result<Xtruct, BoxError> {
        Ok(Xtruct {
            string_thing: Some("Hello2".into()),
            byte_thing: Some(arg0),
            i32_thing: Some(arg1),
            i64_thing: Some(arg2),
        })
    }
    async fn test_exception(&self, arg: FastStr) -> Result<(), ThriftTestTestExceptionError> {
        match arg.as_str() {
            "Xception" => Err(ThriftTestTestExceptionError::Err1(Xception {
                error_code: Some(1001),
                message: Some(arg),
            })),
            "TException" => Err(ThriftTestTestExceptionError::Other("TException".into())),
            _ => Ok(()),
        }
    }
    async fn test_multi_exception(
        &self,
        arg0: FastStr,
        arg1: FastStr,
    ) -> Result<Xtruct, ThriftTestTestMultiExceptionError> {
        match arg0.as_str() {
            "Xception" => Err(ThriftTestTestMultiExceptionError::Err1(Xception {
                error_code: Some(1001),
                message: Some("This is an Xception".into()),
            })),
            "Xception2" => Err(ThriftTestTestMultiExceptionError::Err2(Xception2 {
                error_code: Some(2002),
                struct_thing: Some(Xtruct {
                    string_thing: Some("This is an Xception2".into()),
                    ..Default::default()
                }),
            })),
            _ => Ok(Xtruct {
                string_thing: Some(arg1),
                ..Default::default()
            }),
        }
    }
    async fn test_oneway(&self, seconds_to_sleep: i32) -> Result<(), BoxError> {
        let secs = u64::try_from(seconds_to_sleep).unwrap_or(0).min(10);
        rt::sleep(Duration::from_secs(secs)).await;
        Ok(())
    }
}

/// The SecondService handler.
pub(crate) struct Second;

impl SecondServiceHandler for Second {
    async fn secondtest_string(&self, thing: FastStr) -> Result<FastStr, BoxError> {
        Ok(format!("testString(\"{thing}\")").into())
    }
}

/// A server builder with ThriftTest and SecondService registered.
pub(crate) fn builder() -> ServerBuilder {
    type T = ThriftTestServer<Handler>;
    type S = SecondServiceServer<Second>;
    Server::builder()
        .add_service(T::new(Handler))
        .add_service(S::new(Second))
}
