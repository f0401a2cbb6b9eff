using static TorchSharp.torch;

namespace Snn.Core.Data;

/// <summary>
/// The pixels of an image-folder split kept on disk: an index of files decoded on demand, a batch at a time,
/// on all cores (uint8 [B, 3, S, S]). Decoding is a pure function of the file, so the same indices give the
/// same pixels on every run and in any thread order.
/// </summary>
internal sealed class StreamedImages
{
    /// <summary>Bytes held per image besides its pixels: the path (UTF-16) plus object overhead, roughly.</summary>
    private const int IndexOverheadBytes = 48;

    public StreamedImages(ImageFolderIndex index, int size, DataMemoryBudget budget)
    {
        Index = index;
        Size = size;
        Budget = budget;
    }

    /// <summary>The files, in dataset order.</summary>
    public ImageFolderIndex Index { get; }

    /// <summary>The image side S.</summary>
    public int Size { get; }

    /// <summary>The memory budget the streamed dataset and its loaders must keep within.</summary>
    public DataMemoryBudget Budget { get; }

    /// <summary>Bytes of one decoded image: 3 x S x S.</summary>
    public long ImageBytes => 3L * Size * Size;

    /// <summary>Bytes held while streaming besides batches: the file index (paths) and the int64 labels.</summary>
    public long ResidentBytes => Index.Files.Sum(f => (2L * f.Length) + IndexOverheadBytes) + (sizeof(long) * (long)Index.Count);

    /// <summary>Decodes the images at <paramref name="indices"/> into a new uint8 tensor [B, 3, S, S].</summary>
    public Tensor Read(ReadOnlySpan<long> indices)
    {
        var files = new string[indices.Length];
        for (var i = 0; i < files.Length; i++)
        {
            if (indices[i] < 0 || indices[i] >= Index.Count)
            {
                throw new ArgumentException($"indices[{i}] = {indices[i]} is out of range: expected [0, {Index.Count - 1}]", nameof(indices));
            }

            files[i] = Index.Files[(int)indices[i]];
        }

        return ImageFolder.Decode(files, Size);
    }

    /// <summary>The images [start, start + count) as a streamed subset (the index is shared, not re-listed).</summary>
    public StreamedImages Range(int start, int count) => new(Index.Range(start, count), Size, Budget);
}
