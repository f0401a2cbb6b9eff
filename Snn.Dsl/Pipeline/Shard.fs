/// Sharded evaluation: shard i of n (1-based, `--shard i/n`) evaluates a contiguous slice of each
/// test set's evaluation batches, so that every test image is in exactly one shard and a shard's
/// batches are exactly the batches an unsharded run evaluates (the same images in the same batch;
/// `snn merge` then sums the shards' counts and error sums into the unsharded figures).
namespace Snn.Dsl.Pipeline

/// Shard `Index` (1-based) of `Count`.
type Shard =
    { Index: int
      Count: int }

    override s.ToString() = $"%d{s.Index}/%d{s.Count}"

module Shard =

    /// Reads "i/n" with 1 <= i <= n.
    let parse (text: string) : Result<Shard, string> =
        match text.Split '/' with
        | [| i; n |] ->
            match System.Int32.TryParse i, System.Int32.TryParse n with
            | (true, i), (true, n) when n >= 1 && i >= 1 && i <= n -> Ok { Index = i; Count = n }
            | (true, _), (true, n) when n >= 1 -> Error $"%s{text}: the shard must be in 1..%d{n}"
            | _ -> Error $"%s{text}: expected i/n with whole numbers n >= 1 and 1 <= i <= n, e.g. 1/2"
        | _ -> Error $"%s{text}: expected i/n with whole numbers n >= 1 and 1 <= i <= n, e.g. 1/2"

    /// The images [start, start + count) of shard `s` among `images` images read in batches of
    /// `batch`: the batches [(i-1)B/n, iB/n) of the B = ceil(images / batch) batches.
    let images (s: Shard) (images: int) (batch: int) =
        let batches = (images + batch - 1) / batch
        let first = (s.Index - 1) * batches / s.Count
        let last = s.Index * batches / s.Count
        let start = min images (first * batch)
        start, min images (last * batch) - start

    /// The images [start, start + count) of an optional shard (all of them without one).
    let slice (s: Shard option) (count: int) (batch: int) =
        match s with
        | Some s -> images s count batch
        | None -> 0, count
