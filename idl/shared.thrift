namespace rs shared
typedef i64 Id
const i32 MAX_ITEMS = 16
enum Color { RED = 1, GREEN = 2 }
struct Item { 1: required Id id, 2: optional string name = "unnamed", 3: Color color = Color.RED }
exception NotFound { 1: Id id, 2: string why }
union Pick { 1: Id by_id, 2: string by_name }
