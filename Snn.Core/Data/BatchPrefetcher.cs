using static TorchSharp.torch;

namespace Snn.Core.Data;

/// <summary>
/// Decodes the pixel batches of one epoch of a streamed dataset ahead of the consumer: batch b + depth is
/// started on the thread pool when batch b is taken, so at most <c>depth</c> decoded uint8 batches wait at any
/// time. Batches are handed out strictly in order and decoding is a pure function of the files, so the result
/// does not depend on thread timing. Dispose waits for the batches still being decoded and frees them.
/// </summary>
internal sealed class BatchPrefetcher : IDisposable
{
    private readonly ImageDataset dataset;
    private readonly long[] order;
    private readonly int batchSize;
    private readonly int batchCount;
    private readonly Queue<Task<Tensor>> pending = new();
    private int next;

    public BatchPrefetcher(ImageDataset dataset, long[] order, int batchSize, int batchCount, int depth)
    {
        this.dataset = dataset;
        this.order = order;
        this.batchSize = batchSize;
        this.batchCount = batchCount;
        while (pending.Count < depth && next < batchCount)
        {
            StartNext();
        }
    }

    /// <summary>The pixels of the next batch (uint8 [B, C, H, W], owned by the caller); waits until decoded.</summary>
    public Tensor Take()
    {
        var task = pending.Dequeue();
        if (next < batchCount)
        {
            StartNext();
        }

        // GetResult rethrows the decoder's own exception (a DataFileException naming the file), not an AggregateException.
        return task.GetAwaiter().GetResult();
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        while (pending.Count > 0)
        {
            var task = pending.Dequeue();
            try
            {
                task.GetAwaiter().GetResult().Dispose();
            }
            catch (Exception e) when (e is DataFileException or IOException)
            {
                // A batch nobody will take failed to decode; the consumer stopped before needing it.
            }
        }
    }

    private void StartNext()
    {
        var start = next * batchSize;
        var count = Math.Min(batchSize, order.Length - start);
        var indices = order.AsMemory(start, count);
        pending.Enqueue(Task.Run(() => dataset.ReadImages(indices.Span)));
        next++;
    }
}
