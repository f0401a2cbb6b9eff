using static TorchSharp.torch;

namespace Snn.Core.Data;

/// <summary>
/// An image dataset: class labels as int64 [N] with values in [0, Classes), and raw pixels as uint8 [N, C, H, W]
/// (0..255, channel-first) either held in memory (<see cref="Images"/>) or streamed from an image folder
/// (<see cref="IsStreamed"/>: decoded on demand by <see cref="ReadImages"/>, a batch at a time). Owns its
/// tensors; dispose it to free them.
/// </summary>
public sealed class ImageDataset : IDisposable
{
    private readonly Tensor? images;
    private readonly StreamedImages? streamed;

    /// <summary>Wraps tensors into a dataset after checking their shapes, types and label range.</summary>
    /// <param name="name">A human-readable name, e.g. "fashion-mnist/train".</param>
    /// <param name="images">uint8 [N, C, H, W], N &gt;= 0, C, H, W &gt;= 1; ownership passes to the dataset.</param>
    /// <param name="labels">int64 [N], every value in [0, classes); ownership passes to the dataset.</param>
    /// <param name="classNames">One name per class; its length is the class count K &gt;= 1.</param>
    public ImageDataset(string name, Tensor images, Tensor labels, IReadOnlyList<string> classNames)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(classNames);
        if (images.dtype != ScalarType.Byte || images.dim() != 4)
        {
            throw new ArgumentException(
                $"{nameof(images)} is {images.dtype} [{string.Join(", ", images.shape)}]: expected uint8 [N, C, H, W]",
                nameof(images));
        }

        if (labels.dtype != ScalarType.Int64 || labels.dim() != 1 || labels.shape[0] != images.shape[0])
        {
            throw new ArgumentException(
                $"{nameof(labels)} is {labels.dtype} [{string.Join(", ", labels.shape)}]: expected int64 [{images.shape[0]}]",
                nameof(labels));
        }

        Guard.AtLeast(classNames.Count, 1, nameof(classNames), "number of classes");
        if (labels.numel() > 0)
        {
            using var min = labels.min();
            using var max = labels.max();
            var lo = min.item<long>();
            var hi = max.item<long>();
            if (lo < 0 || hi >= classNames.Count)
            {
                throw new ArgumentException(
                    $"{nameof(labels)} has values in [{lo}, {hi}]: expected [0, {classNames.Count - 1}]",
                    nameof(labels));
            }
        }

        Name = name;
        this.images = images;
        Labels = labels;
        ClassNames = classNames.ToArray();
    }

    private ImageDataset(string name, StreamedImages streamed)
    {
        Name = name;
        this.streamed = streamed;
        var labels = streamed.Index.Labels.Select(l => (long)l).ToArray();
        Labels = tensor(labels, [labels.Length]);
        ClassNames = streamed.Index.ClassNames;
    }

    /// <summary>A human-readable name, e.g. "fashion-mnist/train".</summary>
    public string Name { get; }

    /// <summary>Raw pixels, uint8 [N, C, H, W], values 0..255, of an in-memory dataset.</summary>
    /// <exception cref="InvalidOperationException">The dataset is streamed: read its pixels with <see cref="ReadImages"/> or a <see cref="BatchLoader"/>.</exception>
    public Tensor Images => images ?? throw new InvalidOperationException(
        $"{Name} is streamed from {streamed!.Index.Folder}: its pixels are not held in memory; read them with ReadImages or a BatchLoader");

    /// <summary>Whether the pixels are streamed from disk rather than held in memory.</summary>
    public bool IsStreamed => streamed is not null;

    /// <summary>
    /// The memory budget of a streamed dataset (its loaders size their prefetching to fit it), or null when the
    /// dataset is in memory.
    /// </summary>
    public DataMemoryBudget? StreamingBudget => streamed?.Budget;

    /// <summary>Bytes a streamed dataset holds besides batches (file index and labels); 0 in memory.</summary>
    public long StreamingResidentBytes => streamed?.ResidentBytes ?? 0;

    /// <summary>Class labels, int64 [N], values in [0, <see cref="Classes"/>).</summary>
    public Tensor Labels { get; }

    /// <summary>The class names, indexed by label.</summary>
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>The number of classes K &gt;= 1.</summary>
    public int Classes => ClassNames.Count;

    /// <summary>The number of images N &gt;= 0.</summary>
    public int Count => (int)Labels.shape[0];

    /// <summary>Channels C (1 for greyscale, 3 for RGB).</summary>
    public int Channels => streamed is null ? (int)images!.shape[1] : 3;

    /// <summary>Image height H in pixels.</summary>
    public int Height => streamed?.Size ?? (int)images!.shape[2];

    /// <summary>Image width W in pixels.</summary>
    public int Width => streamed?.Size ?? (int)images!.shape[3];

    /// <summary>The image shape [C, H, W].</summary>
    public long[] ImageShape => [Channels, Height, Width];

    /// <summary>
    /// A streamed dataset over an image-folder index: nothing is decoded until <see cref="ReadImages"/> (or a
    /// <see cref="BatchLoader"/>) asks for images; only the file index and the labels are held.
    /// </summary>
    /// <param name="index">The split's files and labels.</param>
    /// <param name="size">Image side S in pixels, in [1, 4096].</param>
    /// <param name="budget">The memory the dataset's loaders must keep within.</param>
    /// <param name="name">The dataset's name; defaults to "imagefolder/&lt;split folder&gt;".</param>
    public static ImageDataset Stream(ImageFolderIndex index, int size, DataMemoryBudget budget, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(index);
        ArgumentNullException.ThrowIfNull(budget);
        if (size < 1 || size > 4096)
        {
            throw new ArgumentException($"{nameof(size)} = {size} is out of range: expected [1, 4096] pixels", nameof(size));
        }

        return new ImageDataset(
            name ?? "imagefolder/" + Path.GetFileName(Path.TrimEndingDirectorySeparator(index.Folder)),
            new StreamedImages(index, size, budget));
    }

    /// <summary>
    /// The pixels of the images at <paramref name="indices"/> as a new uint8 tensor [B, C, H, W] owned by the
    /// caller: gathered from memory, or decoded from their files on all cores for a streamed dataset.
    /// </summary>
    /// <param name="indices">Image indices, each in [0, N).</param>
    public Tensor ReadImages(ReadOnlySpan<long> indices)
    {
        if (streamed is not null)
        {
            return streamed.Read(indices);
        }

        using var index = tensor(indices.ToArray(), [indices.Length]);
        return images!.index_select(0, index);
    }

    /// <summary>
    /// The images [start, start + count) as a new dataset that shares storage with this one (no copy; a streamed
    /// dataset's subset is streamed too); dispose it separately. Used for the train / held-out split and for
    /// calibration subsets.
    /// </summary>
    /// <param name="start">First image index, in [0, N].</param>
    /// <param name="count">Number of images, in [0, N - start].</param>
    /// <param name="name">Name of the subset; defaults to "&lt;name&gt;[start..start+count)".</param>
    public ImageDataset Subset(int start, int count, string? name = null)
    {
        if (start < 0 || start > Count)
        {
            throw new ArgumentException($"{nameof(start)} = {start} is out of range: expected [0, {Count}]", nameof(start));
        }

        if (count < 0 || count > Count - start)
        {
            throw new ArgumentException(
                $"{nameof(count)} = {count} is out of range: expected [0, {Count - start}] for start = {start}",
                nameof(count));
        }

        var subsetName = name ?? $"{Name}[{start}..{start + count})";
        return streamed is not null
            ? new ImageDataset(subsetName, streamed.Range(start, count))
            : new ImageDataset(subsetName, images!.narrow(0, start, count), Labels.narrow(0, start, count), ClassNames);
    }

    /// <summary>Images per class: entry k is the number of labels equal to k, k in [0, K).</summary>
    public long[] ClassCounts()
    {
        using var counts = Labels.bincount(null, Classes);
        return counts.data<long>().ToArray();
    }

    /// <summary>Frees the image and label tensors.</summary>
    public void Dispose()
    {
        images?.Dispose();
        Labels.Dispose();
    }
}
