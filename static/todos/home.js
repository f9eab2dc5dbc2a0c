/**
 * The site root, '/': opens the list used last in this browser, or, for a
 * browser that has none, a new list (an id made here; nothing is stored
 * anywhere until something is typed into it).
 */

import { RecentLists, listPath, newListId } from './lists.js';

const recent = new RecentLists();
const id = recent.homeId() || (await newListId());
recent.opened(id); // so that '/' opened again meanwhile finds the same list
location.replace(listPath(document.body.dataset.root, id));
