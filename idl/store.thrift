include "shared.thrift"
namespace rs store
service Store {
  shared.Item get(1: shared.Id id) throws (1: shared.NotFound missing),
  list<shared.Item> find(1: shared.Pick pick, 2: i32 limit),
  oneway void touch(1: shared.Id id),
}
