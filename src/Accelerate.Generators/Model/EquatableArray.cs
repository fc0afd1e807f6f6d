using System;
using System.Collections;
using System.Collections.Generic;
using System.Collections.Immutable;

namespace Accelerate.Generators.Model
{
    /// <summary>
    /// An immutable array compared by its elements, so that pipeline outputs holding lists stay
    /// equal across runs and the incremental generator can skip unchanged work. A class, not a
    /// struct: the compiler's pipeline code is generic over its values and shares one compiled
    /// copy among reference types, which matters in the fresh compiler process most builds use.
    /// </summary>
    internal sealed class EquatableArray<T> : IEquatable<EquatableArray<T>>, IReadOnlyList<T>
    {
        private readonly T[] _items;

        public EquatableArray(IEnumerable<T> items) => _items = new List<T>(items).ToArray();

        public static EquatableArray<T> Empty { get; } = new(Array.Empty<T>());

        public int Count => _items.Length;

        public T this[int index] => _items[index];

        public bool Equals(EquatableArray<T>? other)
        {
            if (other is null || _items.Length != other._items.Length) return false;
            for (var i = 0; i < _items.Length; i++)
            {
                if (!EqualityComparer<T>.Default.Equals(_items[i], other._items[i])) return false;
            }
            return true;
        }

        public override bool Equals(object? obj) => obj is EquatableArray<T> other && Equals(other);

        public override int GetHashCode()
        {
            var hash = 17;
            foreach (var item in _items) hash = unchecked(hash * 31 + (item?.GetHashCode() ?? 0));
            return hash;
        }

        public IEnumerator<T> GetEnumerator() => ((IEnumerable<T>)_items).GetEnumerator();

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }

    internal static class EquatableArray
    {
        public static EquatableArray<T> ToEquatableArray<T>(this IEnumerable<T> items) => new(items);

        public static EquatableArray<T> ToEquatableArray<T>(this ImmutableArray<T> items) =>
            items.IsDefaultOrEmpty ? EquatableArray<T>.Empty : new(items);
    }
}
